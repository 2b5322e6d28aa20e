"""Smart Licensing > Preferences: the user's own "Show License Transaction Details in Inventory
Tab" (Disabled by default), and the change log of the user's preference changes."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.rbac import Action, can
from core.errors import NotAllowed
from core.listing import Listing
from core.service_views import service_errors
from licensing.services import preferences as preference_service

from .workspace import account_page, render_workspace


class PreferencesForm(forms.Form):
    license_transaction_details = forms.TypedChoiceField(
        label=gettext_lazy("Show License Transaction Details in Inventory Tab"),
        choices=[("false", gettext_lazy("Disabled")), ("true", gettext_lazy("Enabled"))],
        coerce=lambda value: value == "true",
    )
    note = forms.CharField(
        label=gettext_lazy("Notes"),
        max_length=preference_service.NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


@account_page
@require_http_methods(["GET", "POST"])
def preferences(request, account):
    if not can(request, Action.SET_PREFERENCES, account=account):
        raise NotAllowed()
    current = preference_service.preferences_of(request.user, account)
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial={"license_transaction_details": "true" if current.license_transaction_details else "false"},
    )
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            change = preference_service.set_preference(
                actor=request.user,
                account=account,
                name="license_transaction_details",
                value=form.cleaned_data["license_transaction_details"],
                note=form.cleaned_data["note"],
            )
            remember_preference(request, account, form.cleaned_data["license_transaction_details"])
            messages.success(request, _("The preference is saved.") if change else _("Nothing changed."))
            return redirect("licensing_preferences", account_id=account.pk)
    log = Listing(
        request,
        preference_service.change_log(request.user, account),
        search=["preference", "note", "old_value", "new_value"],
        sorts={"date": "changed_at"},
        default_sort="-date",
    )
    return render_workspace(
        request,
        "licensing/preferences.html",
        {"form": form, "table": log},
        account=account,
        section="preferences",
        status=400 if request.method == "POST" else 200,
    )


SESSION_KEY = "licensing_transaction_details"


def transaction_details_enabled(request, account):
    """The user's "Show License Transaction Details" preference for ``account``.

    Remembered in the session (set here and by the Preferences tab on save) so the Licenses tab
    costs no query for it once per session; another session of the same user sees a change it did
    not make at its next sign-in.
    """
    remembered = request.session.get(SESSION_KEY, {})
    key = str(account.pk)
    if key not in remembered:
        remembered = {**remembered, key: preference_service.transaction_details_enabled(request.user, account)}
        request.session[SESSION_KEY] = remembered
    return remembered[key]


def remember_preference(request, account, value):
    request.session[SESSION_KEY] = {**request.session.get(SESSION_KEY, {}), str(account.pk): value}
