"""The Licensing workspace. Everything about one local account lives under ``/accounts/<id>/``."""
from django.urls import include, path

from . import views

manage_patterns = [
    path("", views.manage, name="licensing_manage"),
    path("general/", views.general, name="licensing_manage_general"),
    path("virtual-accounts/", views.virtual_accounts, name="licensing_manage_virtual_accounts"),
    path("virtual-accounts/new/", views.virtual_account_new, name="licensing_virtual_account_new"),
    path("virtual-accounts/<int:va_id>/edit/", views.virtual_account_edit, name="licensing_virtual_account_edit"),
    path("virtual-accounts/<int:va_id>/delete/", views.virtual_account_delete,
         name="licensing_virtual_account_delete"),
    path("users/", views.users, name="licensing_manage_users"),
    path("users/add/", views.user_add, name="licensing_user_add"),
    path("users/grants/<int:grant_id>/remove/", views.grant_remove, name="licensing_grant_remove"),
    path("access-requests/", views.access_requests, name="licensing_manage_access_requests"),
    path("access-requests/<int:request_id>/approve/", views.access_request_decide, {"decision": "approve"},
         name="licensing_access_request_approve"),
    path("access-requests/<int:request_id>/decline/", views.access_request_decide, {"decision": "decline"},
         name="licensing_access_request_decline"),
    path("event-log/", views.event_log, name="licensing_manage_event_log"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/choose/", views.choose_account, name="licensing_choose_account"),
    path("accounts/<int:account_id>/", views.account_home, name="licensing_account_home"),
    path("accounts/<int:account_id>/manage/", include(manage_patterns)),
    path("requests/account/", views.request_account, name="licensing_request_account"),
    path("requests/access/", views.request_access, name="licensing_request_access"),
]
