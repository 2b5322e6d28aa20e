from django import forms
from django.utils.translation import gettext_lazy as _

from admin_widgets.settings.forms import ReadOnlyableForm
from core.models import SystemSettings
from core.system_settings import TAB_FIELDS


class GeneralForm(ReadOnlyableForm):
    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["network"]
        labels = {"onprem_name": _("SSM On-Prem Name")}
        help_texts = {"onprem_name": _("A DNS resolvable hostname or IP address. Empty: the host name.")}


class ProxyForm(ReadOnlyableForm):
    proxy_password = forms.CharField(
        label=_("Proxy Password"),
        required=False,
        strip=False,
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the saved password."),
    )

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["proxy"]
        labels = {
            "proxy_enabled": _("Use A Proxy Server"),
            "proxy_host": _("Proxy IP Address"),
            "proxy_port": _("Port"),
            "proxy_username": _("Proxy Username"),
        }
