"""Forms of the Security widget's tabs; the services decide (``password_policy``,
``accounts.services.certificate_actions``)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.security_models import SecurityPolicy
from accounts.services.password_policy import ACCOUNT_FIELDS, PASSWORD_FIELDS
from core.certificates import KEY_SIZES, MAX_PEM_BYTES


class _PolicyForm(forms.ModelForm):
    def __init__(self, *args, read_only=False, **kwargs):
        super().__init__(*args, **kwargs)
        if read_only:
            for field in self.fields.values():
                field.disabled = True


class AccountTabForm(_PolicyForm):
    # Left empty (a radio button left unset is not posted at all), these keep their current value:
    # the registration limits (0 is "unlimited"), the usage bounds, the CSLU access mode.
    KEEP_WHEN_EMPTY = (
        "registration_limit_per_token",
        "registration_limit_per_va",
        "device_max_license_count",
        "device_max_licenses_per_message",
        "cslu_access",
    )
    # Kept when not posted at all (a page opened before the setting existed); an empty list posted is
    # a value, refused in "networks" mode by the model's clean().
    KEEP_WHEN_ABSENT = ("cslu_networks",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.KEEP_WHEN_EMPTY + self.KEEP_WHEN_ABSENT:
            self.fields[name].required = False
        self.fields["cslu_networks"].widget.attrs["rows"] = 4

    def clean(self):
        data = super().clean()
        for name in self.KEEP_WHEN_EMPTY + self.KEEP_WHEN_ABSENT:
            if name not in data:
                continue  # refused by its field: the error stands
            if name in self.KEEP_WHEN_ABSENT:
                keep = self.add_prefix(name) not in self.data
            else:
                keep = data[name] in (None, "")
            if keep:
                data[name] = getattr(self.instance, name)
        return data

    class Meta:
        model = SecurityPolicy
        fields = ACCOUNT_FIELDS
        labels = {
            "auto_lock_enabled": _("Enable auto lock"),
            "auto_lock_attempts": _("Login attempts"),
            "auto_lock_window_minutes": _("Within minutes"),
            "lock_expiration_enabled": _("Enable lock expiration"),
            "lock_expiration_minutes": _("Lock expires after (minutes)"),
            "session_limit_enabled": _("Enable session limit"),
            "session_limit": _("Sessions per user (1-999)"),
            "registration_limit_per_token": _("New product instances per token per hour"),
            "registration_limit_per_va": _("New product instances per virtual account per hour"),
            "cslu_access": _("Accept CSLU pushes"),
            "cslu_networks": _("Source networks of CSLU pushes"),
            "device_max_license_count": _("Most of one license a product instance may report"),
            "device_max_licenses_per_message": _("Most licenses in one usage report"),
        }
        help_texts = {
            "session_limit": _("When a user opens one session more, their oldest session is ended."),
            "lock_expiration_minutes": _("Greater than 1 minute. Without lock expiration, an administrator unlocks."),
            "registration_limit_per_token": _(
                "0 = unlimited. Re-registering a known product instance does not "
                "count. Over the limit, devices are told to retry later."
            ),
            "registration_limit_per_va": _(
                "0 = unlimited. Counts new product instances from all tokens of the "
                "virtual account, and those CSLU pushes add."
            ),
            "cslu_networks": _(
                "CIDRs such as 10.0.0.0/8 or 2001:db8::/32, one per line (or separated by commas). "
                "Used when CSLU pushes are accepted only from the listed networks. The default lists "
                "the loopback and private networks."
            ),
            "device_max_license_count": _(
                "1-1000000. A usage report or AUTHORIZE with more of one license is refused whole, and nothing changes."
            ),
            "device_max_licenses_per_message": _("1-500. A message naming more licenses is refused whole."),
        }


class PasswordTabForm(_PolicyForm):
    class Meta:
        model = SecurityPolicy
        fields = PASSWORD_FIELDS
        labels = {
            "login_error_hints": _("Enable login error message notification"),
            "forgot_password_enabled": _("Allow all local users to recover and reset their password (Forgot Password)"),
            "force_change_after_reset": _("Force users to change password after the administrator resets the password"),
            "strength_rules_enabled": _("Apply password strength rules"),
            "rule_not_username": _("Must not contain the user's name"),
            "rule_mixed_case": _("Must include upper and lower case letters"),
            "rule_digit": _("Must include numeric characters (0-9)"),
            "rule_special": _("Must include special characters (! ? - ...)"),
            "rule_not_common": _("Must not be a common password"),
            "min_length": _("Minimum length (up to 15 characters)"),
            "history_enabled": _("Must not reuse previous passwords"),
            "history_count": _("Number of previous passwords (1-99)"),
            "expiration_enabled": _("Enable password expiration"),
            "expiration_days": _("Maximum number of days the password is valid"),
            "expiration_warning_enabled": _("Prompt users to change their password before it expires"),
            "expiration_warning_days": _("Days before expiration to prompt"),
            "change_after_expiry_allowed": _("Allow users to change their password after the expiration date"),
            "expiration_email_enabled": _("Send expiration notification emails"),
            "expiration_email_days": _("Days before expiration to send the email"),
        }


class HostNameForm(forms.Form):
    host_common_name = forms.CharField(
        label=_("Host Common Name"),
        max_length=253,
        help_text=_(
            "The DNS resolvable host name or IP address product instances use to reach this server "
            "(their call-home URL). After changing it, synchronize the local accounts so their "
            "certificates are re-generated with the new name."
        ),
    )


class CsrForm(forms.Form):
    common_name = forms.CharField(label=_("Common Name"), max_length=64)
    organizational_unit = forms.CharField(label=_("Organizational Unit"), max_length=64)
    organization = forms.CharField(label=_("Organization"), max_length=64, required=False)
    locality = forms.CharField(label=_("Locality (City)"), max_length=64, required=False)
    state = forms.CharField(label=_("State or Province"), max_length=64, required=False)
    country = forms.RegexField(
        label=_("Country (two-letter code)"),
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        error_messages={"invalid": _("Enter a two-letter country code, e.g. US.")},
    )
    key_size = forms.TypedChoiceField(label=_("Key Size"), coerce=int, choices=[(size, size) for size in KEY_SIZES])
    subject_alt_names = forms.CharField(
        label=_("Subject Alternative Names"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Other host names or IP addresses, separated by commas or spaces."),
    )

    def clean_country(self):
        return self.cleaned_data["country"].upper()


def _pem_field(label, required=True):
    return forms.FileField(label=label, required=required, max_length=255, allow_empty_file=False)


class ImportForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    certificate = _pem_field(_("Certificate (X.509 PEM)"))
    intermediate = _pem_field(_("Intermediate certificates (PEM, optional)"), required=False)
    private_key = _pem_field(_("Private key (RSA or ECDSA PEM, no pass phrase)"), required=False)

    def clean(self):
        data = super().clean()
        for name in ("certificate", "intermediate", "private_key"):
            upload = data.get(name)
            if upload is not None and upload.size > MAX_PEM_BYTES:
                self.add_error(name, _("The file is too large to be a PEM file."))
        return data

    def read(self, name):
        upload = self.cleaned_data.get(name)
        return upload.read() if upload else b""
