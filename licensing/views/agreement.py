"""Smart Licensing > View/Accept Agreement: the Smart Licensing Agreement CSSM published, as the
last synchronization brought it, and its acceptance (an Account Administrator's). The
acceptance goes to CSSM with the next synchronization (licensing.services.cssm_alerts)."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.errors import NotAllowed
from core.service_views import service_errors

from ..services import cssm_alerts
from .workspace import account_page, render_workspace


class AcceptForm(forms.Form):
    # What the page showed: a newer text received meanwhile is not accepted unseen.
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    digest = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)


@account_page
@require_http_methods(["GET", "POST"])
def agreement(request, account):
    current = cssm_alerts.agreement_of(account)
    may_accept = cssm_alerts.may_accept_agreement(request, account)
    initial = {"version": current.version, "digest": current.digest} if current is not None else None
    form = AcceptForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if not may_accept:
            raise NotAllowed()
        if form.is_valid():
            with service_errors(request, form):
                cssm_alerts.accept_agreement(
                    actor=request.user,
                    account=account,
                    version=form.cleaned_data["version"],
                    digest=form.cleaned_data["digest"],
                )
                messages.success(
                    request,
                    _("The agreement was accepted; the acceptance is sent to Cisco with the next synchronization."),
                )
                return redirect("licensing_agreement", account_id=account.pk)
    return render_workspace(
        request,
        "licensing/agreement.html",
        {"agreement": current, "form": form, "may_accept": may_accept},
        account=account,
        section="alerts",
        status=400 if request.method == "POST" else 200,
    )
