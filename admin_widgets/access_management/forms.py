"""Forms of the Access Management widget: the shape of the input; the rules are in ``services``.

Secret fields never carry the stored value back to the browser (``render_value=False``); the
page shows only whether one is set.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import ExternalIdentityProvider, LdapConfig
from accounts.roles import AccountRole


def _secret(label, help_text):
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        max_length=1024,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class LdapConfigForm(forms.Form):
    enabled = forms.BooleanField(label=_("LDAP Secondary Authentication enabled"), required=False)
    title = forms.CharField(
        label=_("LDAP Title"),
        max_length=100,
        required=False,
        help_text=_("A title describing the LDAP configuration record."),
    )
    host = forms.CharField(
        label=_("LDAP IP Address"),
        max_length=255,
        required=False,
        help_text=_("The IP address or Fully Qualified Domain Name of the LDAP server."),
    )
    port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535, initial=389)
    user_base_dn = forms.CharField(
        label=_("User Base DN"), max_length=500, required=False, help_text=_("For example cn=users,dc=example,dc=com")
    )
    uid_attribute = forms.CharField(
        label=_("UID"),
        max_length=100,
        required=False,
        initial="uid",
        help_text=_("The attribute that identifies a user, for example uid or sAMAccountName."),
    )
    encryption = forms.ChoiceField(label=_("Encryption Method"), choices=LdapConfig.Encryption.choices)
    ca_certificate = forms.CharField(
        label=_("CA Certificate (simple-tls)"),
        required=False,
        max_length=65536,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            "Optional: the PEM certificate of the CA that signed the LDAP server's certificate, if your "
            "system does not already trust it."
        ),
    )
    bind_dn = forms.CharField(
        label=_("Bind DN"),
        max_length=500,
        required=False,
        help_text=_("LDAP Authentication (optional): the DN to bind with."),
    )
    bind_password = _secret(_("Password"), _("The password of the Bind DN. Leave blank to keep the stored one."))
    clear_bind_password = forms.BooleanField(label=_("Clear the stored password"), required=False)
    group_base_dn = forms.CharField(
        label=_("Group Base DN"),
        max_length=500,
        required=False,
        help_text=_("LDAP Group Import Settings (optional): where the groups are."),
    )
    ldap_type = forms.ChoiceField(label=_("LDAP Type"), choices=LdapConfig.LdapType.choices)


class AdfsForm(forms.Form):
    enabled = forms.BooleanField(label=_("OAuth2 ADFS Secondary Authentication enabled"), required=False)
    server_url = forms.CharField(
        label=_("ADFS Server URL"),
        max_length=500,
        required=False,
        help_text=_("Host name, FQDN, IPv4 or IPv6; must begin with https:// or http://"),
    )
    adfs_mode = forms.ChoiceField(
        label=_("ADFS Mode"),
        choices=ExternalIdentityProvider.AdfsMode.choices,
        widget=forms.RadioSelect,
        help_text=_("V3: Microsoft Server 2012; V4: Microsoft Server 2016+."),
    )
    import_claims = forms.BooleanField(
        label=_("Import Claims"),
        required=False,
        help_text=_(
            "Map the ADFS Role claims ONPREM-SYSADMIN, ONPREM-SYSOP and ONPREM-SYSUSER to system roles at every login."
        ),
    )
    resource_name = forms.CharField(
        label=_("ADFS Resource Name"),
        max_length=255,
        required=False,
        help_text=_("Copy this value to your ADFS server's Relying party identifier."),
    )
    client_id = forms.CharField(
        label=_("Client ID"),
        max_length=255,
        required=False,
        help_text=_("The client identifier configured on your ADFS server."),
    )
    client_secret = _secret(_("Client Secret"), _("Optional. Leave blank to keep the stored one."))
    clear_client_secret = forms.BooleanField(label=_("Clear the stored secret"), required=False)


class SsoForm(forms.Form):
    enabled = forms.BooleanField(label=_("SSO Client Secondary Authentication on"), required=False)
    server_url = forms.CharField(
        label=_("Authentication Server"),
        max_length=500,
        required=False,
        help_text=_(
            "The OpenID Connect server's URL (its discovery document is at /.well-known/openid-configuration below it)."
        ),
    )
    client_id = forms.CharField(label=_("Application ID"), max_length=255, required=False)
    client_secret = _secret(_("Application Secret"), _("Leave blank to keep the stored one."))
    clear_client_secret = forms.BooleanField(label=_("Clear the stored secret"), required=False)


ACCOUNT_ROLE_CHOICES = [
    (AccountRole.ACCOUNT_ADMIN.value, _("Account Admin")),
    (AccountRole.ACCOUNT_USER.value, _("Account User")),
    ("per_va", _("Per Virtual Account")),
]
VA_ROLE_CHOICES = [
    ("", "—"),
    (AccountRole.VA_ADMIN.value, _("Virtual Account Administrator")),
    (AccountRole.VA_USER.value, _("Virtual Account User")),
]


def disable_all(form):
    """View only (System Operator): every field shown, none editable."""
    for field in form.fields.values():
        field.disabled = True
    return form
