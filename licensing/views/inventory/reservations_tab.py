"""Inventory > Product Instances > Reserve Licenses: the reservations of one product instance
(Specific License Reservation): reserve, update the reserved quantity, return them."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.rbac import Action, can
from core.service_views import service_errors
from licensing.models import LicenseDefinition
from licensing.services import reservations as reservation_service

from ...forms import ReserveLicensesForm, UpdateReservationForm
from ..workspace import account_page, render_workspace
from .page import inventory_url, require
from .product_instances_tab import _product_instance_or_404


def _page_url(account, pi):
    return reverse("licensing_product_instance_reservations", args=[account.pk, pi.pk])


def _reserved_license(pi, license_id):
    """The license of one of ``pi``'s reservations; 404 when it has none of it."""
    for summary in reservation_service.reservations_of(pi):
        if summary.license_id == license_id:
            return LicenseDefinition.objects.get(pk=license_id)
    raise Http404("No such reservation.")


@account_page
@require_http_methods(["GET", "POST"])
def product_instance_reservations(request, account, pi_id):
    pi = _product_instance_or_404(request, account, pi_id)
    va = pi.virtual_account
    may_reserve = can(request, Action.RESERVE_LICENSES, account=account, virtual_account=va)
    if request.method == "POST":
        require(request, Action.RESERVE_LICENSES, va)
    form = ReserveLicensesForm(request.POST or None, reservable=reservation_service.reservable_licenses(pi))
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            terms = reservation_service.reserve_licenses(
                actor=request.user,
                product_instance=pi,
                license=form.cleaned_data["license"],
                quantity=form.cleaned_data["quantity"],
            )
            messages.success(
                request,
                _("%(count)s licenses were reserved on the product instance “%(pi)s”.")
                % {"count": sum(quantity for _end, quantity in terms), "pi": pi.display_name},
            )
            return redirect(_page_url(account, pi))
    return render_workspace(
        request,
        "licensing/inventory/product_instance_reservations.html",
        {
            "form": form,
            "virtual_account": va,
            "product_instance": pi,
            "reservations": reservation_service.reservations_of(pi),
            "may_reserve": may_reserve,
            "back_url": inventory_url("licensing_inventory_product_instances", account, va),
            "detail_url": reverse("licensing_product_instance_detail", args=[account.pk, pi.pk]),
        },
        account=account,
        section="inventory",
    )


@account_page
@require_POST
def product_instance_reservation_update(request, account, pi_id, license_id):
    pi = _product_instance_or_404(request, account, pi_id)
    require(request, Action.RESERVE_LICENSES, pi.virtual_account)
    license = _reserved_license(pi, license_id)
    form = UpdateReservationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a whole number of at least 1 to update the reservation."))
        return redirect(_page_url(account, pi))
    with service_errors(request):
        reservation_service.update_reservation(
            actor=request.user, product_instance=pi, license=license, quantity=form.cleaned_data["quantity"]
        )
        messages.success(
            request,
            _("The reservation of “%(license)s” on the product instance “%(pi)s” was updated to %(count)s.")
            % {"license": license.name, "pi": pi.display_name, "count": form.cleaned_data["quantity"]},
        )
    return redirect(_page_url(account, pi))


@account_page
@require_POST
def product_instance_reservation_return(request, account, pi_id, license_id):
    pi = _product_instance_or_404(request, account, pi_id)
    require(request, Action.RESERVE_LICENSES, pi.virtual_account)
    license = _reserved_license(pi, license_id)
    with service_errors(request):
        count = reservation_service.return_reservation(actor=request.user, product_instance=pi, license=license)
        messages.success(
            request,
            _("%(count)s reserved “%(license)s” licenses were returned to the local virtual account “%(va)s”.")
            % {"count": count, "license": license.name, "va": pi.virtual_account.name},
        )
    return redirect(_page_url(account, pi))
