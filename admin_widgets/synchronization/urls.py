from django.urls import path

from . import views

urlpatterns = [
    path("", views.account_list, name="admin_sync"),
    path("schedules/", views.schedules, name="admin_sync_schedules"),
    path("history/", views.history, name="admin_sync_history"),
    path("history/export.csv", views.history_csv, name="admin_sync_history_csv"),
    path("<int:pk>/", views.account_detail, name="admin_sync_account"),
    path("<int:pk>/status.json", views.account_status, name="admin_sync_status"),
    path("<int:pk>/now/", views.sync_now, name="admin_sync_now"),
    path("<int:pk>/request/", views.download_request, name="admin_sync_request"),
    path("<int:pk>/response/", views.upload_response, name="admin_sync_response"),
    path("<int:pk>/privacy/", views.account_privacy, name="admin_sync_privacy"),
    path("<int:pk>/scheduled/", views.account_scheduled, name="admin_sync_scheduled"),
]
