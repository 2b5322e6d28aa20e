"""One form per tab of the Settings widget; the service (``core.system_settings``) decides."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.models import SystemSettings
from core.system_settings import TAB_FIELDS, time_zones


class ReadOnlyableForm(forms.ModelForm):
    """A settings form that renders every field disabled for those who may only look."""

    tab = None

    def __init__(self, *args, read_only=False, **kwargs):
        super().__init__(*args, **kwargs)
        if read_only:
            for field in self.fields.values():
                field.disabled = True


class MessagingForm(ReadOnlyableForm):
    tab = "messaging"

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["messaging"]
        labels = {
            "banner_text": _("Banner Text"),
            "banner_on_login": _("Display Message?"),
            "banner_text_color": _("Text Color"),
            "banner_background_color": _("Background Color"),
            "login_message": _("Login Page Message"),
        }
        help_texts = {"banner_on_login": _("Also show the banner on the login screen.")}
        widgets = {
            "banner_text_color": forms.TextInput(attrs={"type": "color"}),
            "banner_background_color": forms.TextInput(attrs={"type": "color"}),
            "login_message": forms.Textarea(attrs={"rows": 3}),
        }


class SyslogForm(ReadOnlyableForm):
    tab = "syslog"

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["syslog"]
        labels = {
            "syslog_enabled": _("Enable Remote Logging"),
            "syslog_host": _("Syslog Server Address"),
            "syslog_port": _("UDP Port"),
        }


class LanguageForm(ReadOnlyableForm):
    tab = "language"
    default_language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["language"]


class EmailForm(ReadOnlyableForm):
    tab = "email"
    smtp_password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the saved password."),
    )

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["email"]
        labels = {
            "smtp_host": _("SMTP Server"),
            "smtp_port": _("SMTP Port"),
            "smtp_helo_domain": _("HELO Domain"),
            "smtp_from": _("Email From"),
            "smtp_auth_required": _("Authentication Required"),
            "smtp_username": _("Username"),
            "smtp_starttls": _("Use STARTTLS"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("smtp_host", "smtp_helo_domain", "smtp_from"):
            self.fields[name].required = True
        # The field is a form field, not the model column: the column holds ciphertext.
        self.initial.pop("smtp_password", None)


class TimeForm(ReadOnlyableForm):
    tab = "time"
    time_zone = forms.ChoiceField(label=_("Time Zone"))

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["time"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zones()]


class MotdForm(ReadOnlyableForm):
    tab = "motd"

    class Meta:
        model = SystemSettings
        fields = TAB_FIELDS["motd"]
        labels = {"message_of_the_day": _("Message of the Day"), "before_login_message": _("Before-login Message")}
        widgets = {
            "message_of_the_day": forms.Textarea(attrs={"rows": 3}),
            "before_login_message": forms.Textarea(attrs={"rows": 3}),
        }


FORMS = {form.tab: form for form in (MessagingForm, SyslogForm, LanguageForm, EmailForm, TimeForm, MotdForm)}
