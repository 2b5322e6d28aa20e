from django.urls import path

from . import views

urlpatterns = [
    path("", views.user_list, name="admin_users"),
    path("export.csv", views.user_csv, name="admin_users_csv"),
    path("create/", views.user_create, name="admin_user_create"),
    path("<int:pk>/role/", views.user_role, name="admin_user_role"),
    path("<int:pk>/disable/", views.user_disable, name="admin_user_disable"),
    path("<int:pk>/enable/", views.user_enable, name="admin_user_enable"),
    path("<int:pk>/unlock/", views.user_unlock, name="admin_user_unlock"),
    path("<int:pk>/remove/", views.user_remove, name="admin_user_remove"),
    path("<int:pk>/password/", views.user_password, name="admin_user_password"),
]
