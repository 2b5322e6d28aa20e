"""The Licensing workspace. Everything about one local account lives under ``/accounts/<id>/``."""

from django.urls import include, path

from . import views
from .views import inventory

manage_patterns = [
    path("", views.manage, name="licensing_manage"),
    path("general/", views.general, name="licensing_manage_general"),
    path("virtual-accounts/", views.virtual_accounts, name="licensing_manage_virtual_accounts"),
    path("virtual-accounts/new/", views.virtual_account_new, name="licensing_virtual_account_new"),
    path("virtual-accounts/<int:va_id>/edit/", views.virtual_account_edit, name="licensing_virtual_account_edit"),
    path("virtual-accounts/<int:va_id>/delete/", views.virtual_account_delete, name="licensing_virtual_account_delete"),
    path("users/", views.users, name="licensing_manage_users"),
    path("users/add/", views.user_add, name="licensing_user_add"),
    path("users/export.csv", views.users_csv, name="licensing_manage_users_csv"),
    path("users/grants/<int:grant_id>/remove/", views.grant_remove, name="licensing_grant_remove"),
    path("access-requests/", views.access_requests, name="licensing_manage_access_requests"),
    path(
        "access-requests/<int:request_id>/approve/",
        views.access_request_decide,
        {"decision": "approve"},
        name="licensing_access_request_approve",
    ),
    path(
        "access-requests/<int:request_id>/decline/",
        views.access_request_decide,
        {"decision": "decline"},
        name="licensing_access_request_decline",
    ),
    path("event-log/", views.event_log, name="licensing_manage_event_log"),
]

inventory_patterns = [
    path("", inventory.general, name="licensing_inventory"),
    path("licenses/", inventory.licenses, name="licensing_inventory_licenses"),
    path("licenses/export.csv", inventory.licenses_csv, name="licensing_inventory_licenses_csv"),
    path("product-instances/", inventory.product_instances, name="licensing_inventory_product_instances"),
    path(
        "product-instances/export.csv",
        inventory.product_instances_csv,
        name="licensing_inventory_product_instances_csv",
    ),
    path("sl-using-policy/", inventory.sl_using_policy, name="licensing_inventory_sl_using_policy"),
    path("event-log/", inventory.event_log, name="licensing_inventory_event_log"),
    path("event-log/export.csv", inventory.event_log_csv, name="licensing_inventory_event_log_csv"),
    path(
        "virtual-accounts/<int:va_id>/sl-using-policy/synchronize/",
        inventory.sl_using_policy_sync,
        name="licensing_inventory_sl_using_policy_sync",
    ),
    path("virtual-accounts/<int:va_id>/tokens/new/", inventory.token_new, name="licensing_token_new"),
    path("tokens/<int:token_id>/revoke/", inventory.token_revoke, name="licensing_token_revoke"),
    path("tokens/<int:token_id>/remove/", inventory.token_remove, name="licensing_token_remove"),
    path("tokens/<int:token_id>/download/", inventory.token_download, name="licensing_token_download"),
    path(
        "product-instances/<int:pi_id>/transfer/",
        inventory.product_instance_transfer,
        name="licensing_product_instance_transfer",
    ),
    path(
        "product-instances/<int:pi_id>/remove/",
        inventory.product_instance_remove,
        name="licensing_product_instance_remove",
    ),
    path(
        "product-instances/<int:pi_id>/reservations/",
        inventory.product_instance_reservations,
        name="licensing_product_instance_reservations",
    ),
    path(
        "product-instances/<int:pi_id>/reservations/<int:license_id>/update/",
        inventory.product_instance_reservation_update,
        name="licensing_product_instance_reservation_update",
    ),
    path(
        "product-instances/<int:pi_id>/reservations/<int:license_id>/return/",
        inventory.product_instance_reservation_return,
        name="licensing_product_instance_reservation_return",
    ),
    path(
        "virtual-accounts/<int:va_id>/licenses/tags/", inventory.license_tags_edit, name="licensing_license_tags_edit"
    ),
    path(
        "virtual-accounts/<int:va_id>/license-tags/",
        inventory.license_tags_manage,
        name="licensing_license_tags_manage",
    ),
    path(
        "virtual-accounts/<int:va_id>/license-tags/<int:tag_id>/rename/",
        inventory.license_tag_rename,
        name="licensing_license_tag_rename",
    ),
    path(
        "virtual-accounts/<int:va_id>/license-tags/<int:tag_id>/delete/",
        inventory.license_tag_delete,
        name="licensing_license_tag_delete",
    ),
    path(
        "virtual-accounts/<int:va_id>/licenses/transfer/",
        inventory.license_bulk_transfer,
        name="licensing_license_bulk_transfer",
    ),
    path(
        "virtual-accounts/<int:va_id>/licenses/<int:license_id>/transfer/",
        inventory.license_transfer,
        name="licensing_license_transfer",
    ),
    path(
        "virtual-accounts/<int:va_id>/licenses/<int:license_id>/upgrade/",
        inventory.license_upgrade,
        name="licensing_license_upgrade",
    ),
    path(
        "virtual-accounts/<int:va_id>/licenses/<int:license_id>/port/",
        inventory.license_port,
        name="licensing_license_port",
    ),
    path(
        "virtual-accounts/<int:va_id>/licenses/<int:license_id>/assignment/",
        inventory.license_assignment,
        name="licensing_license_assignment",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/choose/", views.choose_account, name="licensing_choose_account"),
    path("accounts/<int:account_id>/", views.account_home, name="licensing_account_home"),
    path("accounts/<int:account_id>/manage/", include(manage_patterns)),
    path("accounts/<int:account_id>/inventory/", include(inventory_patterns)),
    path("requests/account/", views.request_account, name="licensing_request_account"),
    path("requests/access/", views.request_access, name="licensing_request_access"),
]

# Smart Licensing > Alerts.
from .views import alerts  # noqa: E402

urlpatterns += [
    path("accounts/<int:account_id>/alerts/", alerts.alerts, name="licensing_alerts"),
    path("accounts/<int:account_id>/alerts/export.csv", alerts.alerts_csv, name="licensing_alerts_csv"),
    path("accounts/<int:account_id>/alerts/view/", alerts.alert_view, name="licensing_alert_view"),
    path(
        "accounts/<int:account_id>/alerts/<int:alert_id>/transfer/",
        alerts.alert_transfer,
        name="licensing_alert_transfer",
    ),
    path(
        "accounts/<int:account_id>/alerts/<int:alert_id>/dismiss/", alerts.alert_dismiss, name="licensing_alert_dismiss"
    ),
    path(
        "accounts/<int:account_id>/alerts/<int:alert_id>/remind-later/",
        alerts.alert_remind_later,
        name="licensing_alert_remind_later",
    ),
]

# Smart Licensing > Activity (License Transactions, Event Log).
from .views import activity  # noqa: E402

urlpatterns += [
    path("accounts/<int:account_id>/activity/", activity.transactions, name="licensing_activity"),
    path(
        "accounts/<int:account_id>/activity/export.csv",
        activity.transactions_csv,
        name="licensing_activity_transactions_csv",
    ),
    path("accounts/<int:account_id>/activity/event-log/", activity.event_log, name="licensing_activity_event_log"),
    path(
        "accounts/<int:account_id>/activity/event-log/export.csv",
        activity.event_log_csv,
        name="licensing_activity_event_log_csv",
    ),
]

# Manage Account > User Groups.
from .views import groups  # noqa: E402

_groups = "accounts/<int:account_id>/manage/user-groups/"
urlpatterns += [
    path(_groups, groups.user_groups, name="licensing_manage_user_groups"),
    path(_groups + "new/", groups.user_group_new, name="licensing_user_group_new"),
    path(_groups + "template.csv", groups.user_group_template, name="licensing_user_group_template"),
    path(_groups + "<int:group_id>/", groups.user_group, name="licensing_user_group"),
    path(_groups + "<int:group_id>/edit/", groups.user_group_edit, name="licensing_user_group_edit"),
    path(_groups + "<int:group_id>/delete/", groups.user_group_delete, name="licensing_user_group_delete"),
    path(_groups + "<int:group_id>/members/add/", groups.user_group_member_add, name="licensing_user_group_member_add"),
    path(_groups + "<int:group_id>/message/", groups.user_group_message, name="licensing_user_group_message"),
    path(
        _groups + "<int:group_id>/members/<int:membership_id>/remove/",
        groups.user_group_member_remove,
        name="licensing_user_group_member_remove",
    ),
    path(
        _groups + "<int:group_id>/members/<int:membership_id>/owner/",
        groups.user_group_member_owner,
        name="licensing_user_group_member_owner",
    ),
    path(_groups + "<int:group_id>/upload/", groups.user_group_upload, name="licensing_user_group_upload"),
    path(_groups + "<int:group_id>/download.csv", groups.user_group_download, name="licensing_user_group_download"),
    path(_groups + "<int:group_id>/role/", groups.user_group_role, name="licensing_user_group_role"),
    path(_groups + "<int:group_id>/va-role/", groups.user_group_va_role, name="licensing_user_group_va_role"),
    path(
        _groups + "<int:group_id>/grants/<int:grant_id>/remove/",
        groups.user_group_grant_remove,
        name="licensing_user_group_grant_remove",
    ),
]

# Smart Licensing > Convert to Smart Licensing and Preferences; Manage Account > Custom Tags.
from .views import conversion, custom_tags, preferences  # noqa: E402

_tags = "accounts/<int:account_id>/manage/custom-tags/"
urlpatterns += [
    path("accounts/<int:account_id>/conversion/", conversion.history, name="licensing_conversion"),
    path("accounts/<int:account_id>/conversion/export.csv", conversion.history_csv, name="licensing_conversion_csv"),
    path("accounts/<int:account_id>/conversion/settings/", conversion.settings, name="licensing_conversion_settings"),
    path("accounts/<int:account_id>/preferences/", preferences.preferences, name="licensing_preferences"),
    path(_tags, custom_tags.custom_tags, name="licensing_manage_custom_tags"),
    path(_tags + "new/", custom_tags.custom_tag_new, name="licensing_custom_tag_new"),
    path(_tags + "<int:tag_id>/", custom_tags.custom_tag, name="licensing_custom_tag"),
    path(_tags + "<int:tag_id>/delete/", custom_tags.custom_tag_delete, name="licensing_custom_tag_delete"),
]

# Smart Licensing > Reports, and the Inventory's License / Product Instance detail pages.
from .views import details, reports  # noqa: E402

_reports = "accounts/<int:account_id>/reports/"
urlpatterns += [
    path(_reports, reports.reports, name="licensing_reports"),
    path(_reports + "<slug:kind>/", reports.report, name="licensing_report"),
    path(_reports + "<slug:kind>/export.csv", reports.report_csv, name="licensing_report_csv"),
    path(_reports + "<slug:kind>/export.xlsx", reports.report_xlsx, name="licensing_report_xlsx"),
    path(
        "accounts/<int:account_id>/inventory/virtual-accounts/<int:va_id>/licenses/<int:license_id>/",
        details.license_detail,
        name="licensing_license_detail",
    ),
    path(
        "accounts/<int:account_id>/inventory/product-instances/<int:pi_id>/",
        details.product_instance_detail,
        name="licensing_product_instance_detail",
    ),
]

# Smart Licensing > Alerts > View/Accept Agreement.
from .views import agreement  # noqa: E402

urlpatterns += [
    path("accounts/<int:account_id>/agreement/", agreement.agreement, name="licensing_agreement"),
]
