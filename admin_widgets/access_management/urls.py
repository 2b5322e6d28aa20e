from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="access_management"),
    path("ldap/", views.ldap_config, name="access_ldap"),
    path("ldap/users/", views.ldap_users, name="access_ldap_users"),
    path("ldap/groups/", views.ldap_groups, name="access_ldap_groups"),
    path("ldap/groups/update/", views.ldap_groups_update, name="access_ldap_groups_update"),
    path("ldap/groups/<int:pk>/", views.ldap_group, name="access_ldap_group"),
    path(
        "ldap/groups/<int:pk>/roles/<int:grant_pk>/remove/",
        views.ldap_group_remove_grant,
        name="access_ldap_group_remove_grant",
    ),
    path("adfs/", views.adfs, name="access_adfs"),
    path("sso/", views.sso, name="access_sso"),
]
