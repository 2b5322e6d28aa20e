"""Forms of the API Toolkit widget (guide "Creating OAuth2 Grants", "Setting API Access Control").

They check the shape of the input; the rules (unique name, the console on, which role fits
which scope, who may do what) are the services' in ``accounts.services.api_grants``.
"""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.api_clients import ApiGrant
from accounts.roles import AccountRole
from licensing.models import LocalAccount, VirtualAccount


class GrantForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    expiration_date = forms.DateField(
        label=_("Expiration Date"),
        required=False,
        help_text=_("Optional. The grant stops working at the start of this day (UTC)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expiration_date(self):
        day = self.cleaned_data.get("expiration_date")
        if day is not None and day <= timezone.now().date():
            raise forms.ValidationError(_("Choose a day after today."))
        return day

    def expires_at(self):
        day = self.cleaned_data.get("expiration_date")
        if day is None:
            return None
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.timezone.utc)


class GrantCreateForm(GrantForm):
    grant_type = forms.ChoiceField(label=_("Grant type"), choices=ApiGrant.GrantType.choices)

    field_order = ["grant_type", "name", "description", "expiration_date"]


class _VirtualAccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, va):
        return f"{va.account.name} / {va.name}"


class AccessForm(forms.Form):
    """The guide: "Select an Account ... Select a Role (Account Admin, Account User, Per Virtual Account)"."""

    account = forms.ModelChoiceField(
        label=_("Account"),
        queryset=LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE).order_by("name"),
    )
    role = forms.ChoiceField(label=_("Role"), choices=AccountRole.choices)
    virtual_account = _VirtualAccountChoice(
        label=_("Virtual Account"),
        required=False,
        queryset=VirtualAccount.objects.filter(account__status=LocalAccount.Status.ACTIVE)
        .select_related("account")
        .order_by("account__name", "name"),
        help_text=_("Only for the Virtual Account roles."),
    )
