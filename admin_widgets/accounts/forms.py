"""Forms of the Accounts widget. They check the shape of the input; the business rules (unique
name, which status may become which) are the services' in ``licensing.services.accounts``."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.events.messages import kinds, same_kind
from licensing.models import LicenseDefinition, LocalAccount

REASON_MAX = 2000  # LocalAccount.decision_reason


class NewAccountForm(forms.Form):
    """The guide's "New Account" fields."""

    name = forms.CharField(
        label=_("Local Account Name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    cisco_smart_account = forms.CharField(label=_("Cisco Smart Account"), max_length=255)
    cisco_virtual_account = forms.CharField(
        label=_("Cisco Virtual Account"),
        max_length=255,
        help_text=_("If it does not exist, Cisco Smart Software Manager creates it upon registration."),
    )
    description = forms.CharField(
        label=_("Description"), max_length=255, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReasonForm(forms.Form):
    """The reason for a rejection or a deactivation; it goes into the email to the requester."""

    reason = forms.CharField(
        label=_("Reason"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3, "maxlength": REASON_MAX})
    )


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(LocalAccount.Status.REQUESTED, _("Requested")), (LocalAccount.Status.REJECTED, _("Rejected"))],
    )

    def status_value(self):
        if self.is_valid() and self.cleaned_data["status"]:
            return self.cleaned_data["status"]
        return LocalAccount.Status.REQUESTED


class AccountEventFilterForm(forms.Form):
    """Event Log tab: local account, event type, date range (search is the listing's ``q``)."""

    account = forms.TypedChoiceField(label=_("Local Account"), required=False, coerce=int, empty_value=None)
    event_type = forms.ChoiceField(label=_("Event Type"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, accounts=(), event_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", _("All local accounts"))] + [(pk, name) for pk, name in accounts]
        self.fields["event_type"].choices = [("", _("All event types"))] + kinds(list(event_types))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the date range is before its start."))
        return data

    def filter(self, events):
        """``events`` narrowed by the valid filters; an invalid one is reported and left out."""
        if not self.is_bound:
            return events
        self.is_valid()
        data = self.cleaned_data
        if data.get("account"):
            events = events.filter(account_id=data["account"])
        if data.get("event_type"):
            events = events.filter(event_type__in=same_kind(data["event_type"]))
        if data.get("date_from"):
            events = events.filter(created_at__gte=_start_of(data["date_from"]))
        if data.get("date_to"):
            events = events.filter(created_at__lt=_start_of(data["date_to"] + datetime.timedelta(days=1)))
        return events


def _start_of(day):
    """Midnight at the start of ``day`` in the displayed time zone, so ranges match what is shown."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class AddLicenseForm(forms.Form):
    """License Transactions > Add License: the shape of a new Manual license line. Whether it may be
    added (RBAC, dates by type) is ``licensing.services.license_lines.add_license``'s to say."""

    license = forms.ModelChoiceField(label=_("License"), queryset=None)
    virtual_account = forms.ModelChoiceField(label=_("Local Virtual Account"), queryset=None)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=2_000_000_000)
    license_type = forms.ChoiceField(
        label=_("License Type"),
        choices=[("perpetual", _("Perpetual")), ("term", _("Term"))],
    )
    start_date = forms.DateField(label=_("Start Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        label=_("License Expiration"),
        required=False,
        help_text=_("Term licenses only."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sku = forms.CharField(label=_("License SKU"), max_length=100, required=False)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["license"].queryset = LicenseDefinition.objects.order_by("name", "entitlement_tag")
        self.fields["virtual_account"].queryset = account.virtual_accounts.order_by("name")
