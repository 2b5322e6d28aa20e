"""Forms of the Licensing workspace: they check the shape of the input; the services decide."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import AccountRole
from core.events import messages as event_types


class RequestAccountForm(forms.Form):
    """Request an Account: who to contact, then the account itself (guide steps 3 and 4)."""

    email = forms.EmailField(
        label=_("Email Address"),
        required=False,
        max_length=254,
        help_text=_("Your company email address; your profile's address if left empty."),
    )
    message = forms.CharField(label=_("Message to Creator"), required=False, max_length=2000, widget=forms.Textarea)
    name = forms.CharField(label=_("Local Account Name"), max_length=100)
    cisco_smart_account = forms.CharField(label=_("Cisco Smart Account"), max_length=255)
    cisco_virtual_account = forms.CharField(label=_("Cisco Virtual Account"), max_length=255)


class RequestAccessForm(forms.Form):
    account_name = forms.CharField(
        label=_("Account Name"), max_length=100, help_text=_("The exact name of the local account.")
    )
    company = forms.CharField(label=_("Company"), required=False, max_length=255)


class VirtualAccountForm(forms.Form):
    """New Virtual Account, and the rename dialog (the Default's Star icon and the others')."""

    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, max_length=255)


SPECIFIC_VIRTUAL_ACCOUNTS = "virtual_accounts"
VA_ROLE_CHOICES = [
    ("", _("No role")),
    (AccountRole.VA_ADMIN, AccountRole.VA_ADMIN.label),
    (AccountRole.VA_USER, AccountRole.VA_USER.label),
]


class AddUserForm(forms.Form):
    """Manage Account > Users > New User: the user, then an account-wide role or roles on
    specific local virtual accounts. Only the roles ``grantable`` to the signed-in principal
    and the virtual accounts it manages are offered; anything else in the POST is ignored."""

    user = forms.CharField(label=_("User ID or Email Address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), widget=forms.RadioSelect)

    def __init__(self, *args, account_roles, virtual_accounts, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            (role.value, role.label)
            for role in (AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER)
            if role in account_roles
        ]
        choices.append((SPECIFIC_VIRTUAL_ACCOUNTS, _("Assign roles to specific local Virtual Accounts only")))
        self.fields["role"].choices = choices
        if len(choices) == 1:
            self.fields["role"].initial = SPECIFIC_VIRTUAL_ACCOUNTS
        self.virtual_accounts = list(virtual_accounts)
        for va in self.virtual_accounts:
            self.fields[self.va_field(va)] = forms.ChoiceField(label=va.name, required=False, choices=VA_ROLE_CHOICES)

    @staticmethod
    def va_field(va):
        return f"va_{va.pk}"

    def va_fields(self):
        return [self[self.va_field(va)] for va in self.virtual_accounts]

    def clean(self):
        data = super().clean()
        if data.get("role") == SPECIFIC_VIRTUAL_ACCOUNTS and not self.virtual_account_roles():
            raise forms.ValidationError(_("Choose a role on at least one local virtual account."))
        return data

    def account_role(self):
        role = self.cleaned_data["role"]
        return None if role == SPECIFIC_VIRTUAL_ACCOUNTS else role

    def virtual_account_roles(self):
        if self.cleaned_data.get("role") != SPECIFIC_VIRTUAL_ACCOUNTS:
            return []
        return [
            (va, self.cleaned_data[self.va_field(va)])
            for va in self.virtual_accounts
            if self.cleaned_data.get(self.va_field(va))
        ]


class ApproveAccessForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            (AccountRole.ACCOUNT_USER.value, AccountRole.ACCOUNT_USER.label),
            (AccountRole.ACCOUNT_ADMIN.value, AccountRole.ACCOUNT_ADMIN.label),
        ],
    )


class EventLogFilterForm(forms.Form):
    """Manage Account > Event Log: Date Range, Event Type, User, and a text search."""

    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    event_type = forms.ChoiceField(label=_("Event Type"), required=False)
    user = forms.CharField(label=_("User"), required=False, max_length=150)
    q = forms.CharField(
        label=_("Search"), required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"})
    )

    def __init__(self, *args, types=None, **kwargs):
        super().__init__(*args, **kwargs)
        # One choice per event type name (its variants share it), sorted in the user's language;
        # ``types`` narrows them to those codes' kinds.
        self.fields["event_type"].choices = [("", _("All event types"))] + event_types.kinds(
            None if types is None else sorted(types)
        )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the date range is before its start."))
        return data

    def filter(self, events):
        """``events`` narrowed by the valid filters (an invalid one is reported and left out)."""
        data = self.cleaned_data if self.is_bound else {}
        if data.get("date_from"):
            events = events.filter(created_at__gte=start_of_day(data["date_from"]))
        if data.get("date_to"):
            events = events.filter(created_at__lt=start_of_day(data["date_to"] + datetime.timedelta(days=1)))
        if data.get("event_type"):
            events = events.filter(event_type__in=event_types.same_kind(data["event_type"]))
        if data.get("user"):
            events = events.filter(username__iexact=data["user"].strip())
        return events


def start_of_day(day):
    """Midnight at the start of ``day`` in the displayed time zone, so ranges match what is shown."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class NewTokenForm(forms.Form):
    """Inventory > General > New Token (the "Create Registration Token" dialog).

    Only the shape is checked here (whole numbers, text length); the ranges — Expire After from
    1 to 365 days, Max. Number of Uses at least 1 — and the export-control rule are the token
    service's, which answers with the message shown on the field.
    """

    description = forms.CharField(label=_("Description"), required=False, max_length=255)
    expires_after_days = forms.IntegerField(
        label=_("Expire After (days)"),
        initial=30,
        widget=forms.NumberInput(attrs={"min": 1, "max": 365, "step": 1}),
        help_text=_("Between 1 and 365 days."),
    )
    max_uses = forms.IntegerField(
        label=_("Max. Number of Uses"),
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "step": 1}),
        help_text=_("Optional: leave empty for no limit before the expiration date."),
    )
    export_controlled = forms.BooleanField(
        label=_("Allow export-controlled functionality on the products registered with this token"),
        required=False,
    )
    # Step 5 of the guide's Create Registration Token: required (by the token service) with an
    # export-controlled token.
    terms_accepted = forms.BooleanField(label=_("I agree to the terms and conditions above"), required=False)


class _ToVirtualAccountMixin:
    """A destination virtual account chosen among ``targets`` (those the principal may transfer to)."""

    def set_targets(self, targets):
        self.targets = {str(va.pk): va for va in targets}
        self.fields["to_virtual_account"].choices = [("", _("Choose…"))] + [(str(va.pk), va.name) for va in targets]

    def clean_to_virtual_account(self):
        return self.targets[self.cleaned_data["to_virtual_account"]]


class ProductInstanceTransferForm(_ToVirtualAccountMixin, forms.Form):
    """Inventory > Product Instances > Transfer: only the destination; the service decides."""

    to_virtual_account = forms.ChoiceField(label=_("Transfer to Local Virtual Account"))

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_targets(targets)


class LicenseTransferForm(_ToVirtualAccountMixin, forms.Form):
    """Inventory > Licenses > Transfer: destination, quantity and precedence. A whole number of
    at least 1 is checked here; how many may move is the transfer service's answer."""

    PRECEDENCE_CHOICES = [
        ("LONGEST_TERM_FIRST", _("Longest term first")),
        ("LONGEST_TERM_LAST", _("Longest term last")),
    ]

    to_virtual_account = forms.ChoiceField(label=_("Transfer to Local Virtual Account"))
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, widget=forms.NumberInput(attrs={"min": 1, "step": 1})
    )
    precedence = forms.ChoiceField(
        label=_("Precedence"),
        choices=PRECEDENCE_CHOICES,
        initial="LONGEST_TERM_FIRST",
        help_text=_("Which license lines go first when several can move."),
    )

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_targets(targets)


class LicensePortForm(forms.Form):
    """Inventory > Licenses > Port: the license to port to (one CSSM allows) and the quantity. A
    whole number of at least 1 is checked here; how many may be ported is the service's answer."""

    target = forms.ChoiceField(label=_("Port to License"))
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, widget=forms.NumberInput(attrs={"min": 1, "step": 1})
    )

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.targets = {str(t.pk): t for t in targets}
        self.fields["target"].choices = [(key, t.name) for key, t in self.targets.items()]

    def clean_target(self):
        return self.targets[self.cleaned_data["target"]]


class BulkTransferForm(forms.Form):
    """Inventory > Licenses > Available Actions > Transfer Licenses…: the other local virtual
    account (where the licenses go, or, in the "from" direction, where they come from), the
    precedence, and a quantity per selected license (``quantity_<license id>``). A whole number
    of at least 1 each is checked here; how many may move is the transfer service's answer."""

    other = forms.ChoiceField()
    precedence = forms.ChoiceField(
        label=_("Precedence"),
        choices=LicenseTransferForm.PRECEDENCE_CHOICES,
        initial="LONGEST_TERM_FIRST",
        help_text=_("Which license lines go first when several can move."),
    )

    def __init__(self, *args, others, licenses, direction, limits=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.others = {str(va.pk): va for va in others}
        field = self.fields["other"]
        field.label = (
            _("Transfer from Local Virtual Account") if direction == "from" else _("Transfer to Local Virtual Account")
        )
        field.choices = [("", _("Choose…"))] + [(str(va.pk), va.name) for va in others]
        self.licenses = list(licenses)
        for license in self.licenses:
            attrs = {"min": 1, "step": 1}
            if limits and license.pk in limits and limits[license.pk].transferable > 0:
                attrs["max"] = limits[license.pk].transferable
            self.fields[f"quantity_{license.pk}"] = forms.IntegerField(
                label=_("Quantity of “%(license)s”") % {"license": license.name},
                min_value=1,
                widget=forms.NumberInput(attrs=attrs),
            )

    def clean_other(self):
        return self.others[self.cleaned_data["other"]]

    def quantity_fields(self):
        return [(license, self[f"quantity_{license.pk}"]) for license in self.licenses]

    def items(self):
        return [(license, self.cleaned_data[f"quantity_{license.pk}"]) for license in self.licenses]


class ReserveLicensesForm(forms.Form):
    """Product instance > Reserve Licenses: the license (those the virtual account has available)
    and how many. A whole number of at least 1 is checked here; how many may be reserved is the
    reservation service's answer."""

    license = forms.TypedChoiceField(label=_("License"), coerce=int)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=2**31 - 1)

    def __init__(self, *args, reservable, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["license"].choices = [
            (
                r.license_id,
                _("%(license)s (%(available)s available)") % {"license": r.license, "available": r.available},
            )
            for r in reservable
        ]


class UpdateReservationForm(forms.Form):
    """Update Reserved Licenses: the new quantity of one license's reservation."""

    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=2**31 - 1)
