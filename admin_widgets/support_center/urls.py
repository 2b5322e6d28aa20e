from django.urls import path

from . import views

urlpatterns = [
    path("", views.support_center, name="admin_support"),
    path("logs.zip", views.log_download_all, name="admin_support_zip"),
    path("logs/<str:name>/tail/", views.log_tail, name="admin_support_tail"),
    path("logs/<str:name>/download/", views.log_download, name="admin_support_download"),
]
