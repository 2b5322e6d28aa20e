from django.urls import path

from . import views

urlpatterns = [
    path("", views.account_tab, name="admin_security"),
    path("password/", views.password_tab, name="admin_security_password"),
    path("<slug:tab>/reset/", views.reset_tab, name="admin_security_reset"),
    path("unlock/<int:pk>/", views.unlock, name="admin_security_unlock"),
    path("certificates/", views.certificates_tab, name="admin_security_certificates"),
    path("certificates/host-name/", views.host_name, name="admin_security_host_name"),
    path("certificates/csr/", views.generate_csr, name="admin_security_csr"),
    path("certificates/csr/download/", views.download_csr, name="admin_security_csr_download"),
    path("certificates/import/", views.import_certificate, name="admin_security_import"),
    path("certificates/restore-default/", views.restore_default, name="admin_security_restore_default"),
    path("events/", views.event_list, name="admin_security_events"),
    path("events/export.csv", views.event_csv, name="admin_security_events_csv"),
]
