"""Forms of the Synchronization widget (shape only; the rules are in ``sync.services``)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from sync.documents.parse import MAX_DOCUMENT_BYTES
from sync.documents.rejections import Corrupted
from sync.models import SyncSettings

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class ScheduleForm(forms.Form):
    scheduled_enabled = forms.BooleanField(label=_("Scheduled Synchronization On"), required=False)
    frequency = forms.ChoiceField(label=_("Frequency"), choices=SyncSettings.Frequency.choices)
    hour = forms.IntegerField(label=_("Time of Day: hour (0-23, UTC)"), min_value=0, max_value=23)
    minute = forms.IntegerField(label=_("Time of Day: minutes (0-59)"), min_value=0, max_value=59)
    day_of_week = forms.TypedChoiceField(label=_("Day of Week (weekly)"), choices=WEEKDAYS, coerce=int)
    day_of_month = forms.IntegerField(label=_("Day of Month (monthly)"), min_value=1, max_value=31)


class PrivacyForm(forms.Form):
    privacy_hostname = forms.BooleanField(
        label=_("Hostname"), required=False, help_text=_("Excluded from synchronization requests when checked.")
    )
    privacy_ip_address = forms.BooleanField(label=_("IP Address"), required=False)
    privacy_mac_address = forms.BooleanField(label=_("MAC Address"), required=False)


class AccountPrivacyForm(PrivacyForm):
    override = forms.BooleanField(label=_("Override the global data privacy settings for this account"), required=False)

    field_order = ["override", "privacy_hostname", "privacy_ip_address", "privacy_mac_address"]


class SyncTypeForm(forms.Form):
    sync_type = forms.ChoiceField(choices=[("standard", _("Standard")), ("full", _("Full"))], initial="standard")


class ResponseUploadForm(forms.Form):
    file = forms.FileField(label=_("Synchronization response file (.yml)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(Corrupted().message)
        return upload
