from django.urls import path

from . import license_lines, registration, views

urlpatterns = [
    path("", views.account_list, name="admin_accounts"),
    path("export.csv", views.account_csv, name="admin_accounts_csv"),
    path("new/", views.account_create, name="admin_account_create"),
    path("<int:pk>/deactivate/", views.account_deactivate, name="admin_account_deactivate"),
    path("<int:pk>/activate/", views.account_activate, name="admin_account_activate"),
    # License Transactions: Add License / Remove Licenses (admin_widgets/accounts/license_lines.py)
    path("<int:pk>/license-transactions/", license_lines.license_lines, name="admin_account_license_lines"),
    path("<int:pk>/license-transactions/add/", license_lines.license_add, name="admin_account_license_add"),
    path(
        "<int:pk>/license-transactions/<int:line_pk>/remove/",
        license_lines.license_remove,
        name="admin_account_license_remove",
    ),
    # Registration with CSSM (admin_widgets/accounts/registration.py)
    path("<int:pk>/register/", registration.account_register, name="admin_account_register"),
    path("<int:pk>/reregister/", registration.account_register, {"reregister": True}, name="admin_account_reregister"),
    path("<int:pk>/manual-registration/", registration.manual_registration, name="admin_account_manual_registration"),
    path("<int:pk>/delete/", registration.account_delete, name="admin_account_delete"),
    path(
        "requests/<int:pk>/approve-register/",
        registration.request_approve_register,
        name="admin_account_request_approve_register",
    ),
    path("requests/", views.request_list, name="admin_account_requests"),
    path("requests/export.csv", views.request_csv, name="admin_account_requests_csv"),
    path("requests/<int:pk>/approve/", views.request_approve, name="admin_account_request_approve"),
    path("requests/<int:pk>/reject/", views.request_reject, name="admin_account_request_reject"),
    path("events/", views.event_list, name="admin_account_events"),
    path("events/export.csv", views.event_csv, name="admin_account_events_csv"),
]
