"""Inventory detail pages: the License Detailed Information dialog and the Product Instance Details
dialog, as server-rendered pages (they work without JavaScript; the tables link to them).

* License detail, per (local virtual account, license): Overview (purchased, in use, balance,
  substitutions, a usage pie drawn here as inline SVG, the license's usage in each visible local
  virtual account as bars, its reported usage over the last 7 / 30 / 90 days (``?days=``, from
  the usage reports: ``licensing.services.usage_history``), the license types of the valid lines),
  Product Instances using the license, the license's Event Log, Transaction History (every
  entitlement line of the license in the virtual account, expired ones included).
* Product instance detail: Overview (identity, registration, renewal state, redundancy peers,
  the licenses it uses with their expiration) and its Event Log.

The sub-tab is ``?tab=``; an unknown one shows the Overview. The event log has no foreign key
to a license or a product instance, so a license's (a product instance's) events are the events
of its virtual account whose message names it in quotes — every message of the catalogue quotes
the license name and the product instance's display name as “…”.

RBAC: the virtual account (or the product instance's) must be among ``visible_virtual_accounts``,
else 404; events are read through ``visible_events``.
"""

import datetime
import math

from django.db.models import Sum
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.rbac import Action, can, visible_virtual_accounts
from core.listing import Listing
from licensing.models import (
    DeviceCertificate,
    Entitlement,
    LicenseDefinition,
    LicenseUsage,
    ProductInstance,
)
from licensing.models.licenses import valid_on_q
from licensing.services import compliance, third_party_keys, usage_history
from licensing.services import reservations as reservation_service
from licensing.services.event_log import visible_events

from . import charts
from .inventory.page import inventory_url, visible_virtual_account_or_404
from .workspace import account_page, render_workspace

PAGE_SIZE = 25

LICENSE_TABS = [
    ("overview", _("Overview")),
    ("product_instances", _("Product Instances")),
    ("event_log", _("Event Log")),
    ("transactions", _("Transaction History")),
]
PRODUCT_INSTANCE_TABS = [("overview", _("Overview")), ("event_log", _("Event Log"))]


def _tab(request, tabs):
    requested = request.GET.get("tab", "")
    return requested if requested in dict(tabs) else tabs[0][0]


def _tab_bar(url, tabs, current):
    return [{"key": key, "label": label, "url": f"{url}?tab={key}", "current": key == current} for key, label in tabs]


def quoted(name):
    """How the event catalogue quotes a license or product instance name in a message."""
    return f"“{name}”"


def _event_table(request, account, va, name):
    events = visible_events(request, account).filter(virtual_account=va, message__contains=quoted(name))
    return Listing(
        request,
        events,
        search=["message", "username"],
        sorts={"date": "created_at"},
        default_sort="-date",
        page_size=PAGE_SIZE,
    )


# --- The usage chart ------------------------------------------------------------------------------

CHART_RADIUS = 60
CHART_CENTRE = 70


def usage_chart(position):
    """The Overview's pie of the license in the virtual account, as SVG path data.

    Slices: In Use (covered by what the virtual account holds), Lent to lower tiers, Available,
    Shortage (in use beyond what it holds) — the same parts as the bars (``charts.usage_segments``).
    Drawn on the server so the page needs no script; an empty pie (nothing bought, nothing used)
    has no slices.
    """
    values = charts.usage_segments(position)
    slices = [(key, label, values[key]) for key, label in charts.SEGMENTS]
    total = sum(value for _key, _label, value in slices)
    drawn, angle = [], -math.pi / 2  # start at twelve o'clock
    for key, label, value in slices:
        if value <= 0:
            continue
        share = value / total
        if share >= 1:
            path = None  # a full circle: an SVG arc cannot start and end on the same point
        else:
            end = angle + share * 2 * math.pi
            path = _slice_path(angle, end)
            angle = end
        drawn.append({"key": key, "label": label, "value": value, "percent": round(share * 100), "path": path})
    return {"slices": drawn, "total": total, "size": CHART_CENTRE * 2, "centre": CHART_CENTRE, "radius": CHART_RADIUS}


def _slice_path(start, end):
    c, r = CHART_CENTRE, CHART_RADIUS
    x1, y1 = c + r * math.cos(start), c + r * math.sin(start)
    x2, y2 = c + r * math.cos(end), c + r * math.sin(end)
    large = 1 if end - start > math.pi else 0
    return f"M{c},{c} L{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f} Z"


# --- License detail -------------------------------------------------------------------------------


def _positions(request, account, va, license):
    """(the position of ``license`` in ``va``, its positions in every visible virtual account).

    One ``license_positions`` call over the visible virtual accounts (the same fixed number of
    queries as for one); a virtual account without a line or usage of the license is left out,
    ``va`` itself gets zeros then.
    """
    vas = list(visible_virtual_accounts(request, account))
    positions = [p for p in compliance.license_positions(account, virtual_accounts=vas) if p.license_id == license.pk]
    own = next((p for p in positions if p.virtual_account_id == va.pk), None)
    if own is None:
        own = compliance.LicensePosition(
            virtual_account_id=va.pk,
            virtual_account=va.name,
            license_id=license.pk,
            license=license.name,
            entitlement_tag=license.entitlement_tag,
        )
    return own, positions


def _license_types(va, license):
    """The License Types table: the valid lines grouped by type and dates (count, pending)."""
    today = compliance.today()
    return list(
        Entitlement.objects.filter(valid_on_q(today), virtual_account=va, license=license)
        .values("license_type", "start_date", "end_date", "subscription_id")
        .annotate(count=Sum("quantity"), pending=Sum("pending_quantity"))
        .order_by("end_date", "start_date", "license_type", "subscription_id")
    )


@account_page
@require_GET
def license_detail(request, account, va_id, license_id):
    va = visible_virtual_account_or_404(request, account, va_id)
    license = get_object_or_404(LicenseDefinition, pk=license_id)
    url = reverse("licensing_license_detail", args=[account.pk, va.pk, license.pk])
    tab = _tab(request, LICENSE_TABS)
    context = {
        "virtual_account": va,
        "license": license,
        "tab": tab,
        "detail_tabs": _tab_bar(url, LICENSE_TABS, tab),
        "back_url": inventory_url("licensing_inventory_licenses", account, va),
    }
    if tab == "overview":
        position, positions = _positions(request, account, va, license)
        days = usage_history.clamp_days(request.GET.get("days"))
        history = usage_history.reported_usage(va, license, days=days)
        held_today = position.purchased + position.borrowed - position.lent
        context.update(
            va_bars=charts.usage_bars(
                [
                    (
                        p.virtual_account,
                        reverse("licensing_license_detail", args=[account.pk, p.virtual_account_id, license.pk]),
                        p,
                    )
                    for p in positions
                ]
            ),
            history=history,
            history_chart=charts.history_chart(history, held_today),
            held_today=held_today,
            history_days=[
                {"days": n, "url": f"{url}?tab=overview&days={n}#usage-history", "current": n == days}
                for n in usage_history.DAY_CHOICES
            ],
        )
        types = dict(Entitlement.LicenseType.choices)
        context.update(
            position=position,
            chart=usage_chart(position),
            license_types=[
                dict(row, type_label=types.get(row["license_type"], row["license_type"]))
                for row in _license_types(va, license)
            ],
            substitutions=[
                {
                    "type": s.substitution_type,
                    "quantity": s.quantity,
                    "license": s.substituted_license
                    if s.substitution_type == compliance.FROM_HIGHER_TIER
                    else s.license,
                }
                for s in position.substitutions
            ],
        )
    elif tab == "product_instances":
        usages = LicenseUsage.objects.filter(license=license, product_instance__virtual_account=va).select_related(
            "product_instance"
        )
        context["table"] = Listing(
            request,
            usages,
            search=[
                "product_instance__hostname",
                "product_instance__product_name",
                "product_instance__udi_serial_number",
            ],
            sorts={"name": "product_instance__hostname", "product": "product_instance__product_name", "count": "count"},
            default_sort="name",
            page_size=PAGE_SIZE,
        )
    elif tab == "event_log":
        context["table"] = _event_table(request, account, va, license.name)
    else:
        lines = Entitlement.objects.filter(virtual_account=va, license=license)
        context["table"] = Listing(
            request,
            lines,
            search=["sku", "subscription_id"],
            sorts={
                "date": "created_at",
                "source": "source",
                "type": "license_type",
                "quantity": "quantity",
                "start": "start_date",
                "end": "end_date",
                "sku": "sku",
                "subscription": "subscription_id",
            },
            default_sort="-date",
            page_size=PAGE_SIZE,
        )
        context["today"] = compliance.today()
    return render_workspace(request, "licensing/detail_license.html", context, account=account, section="inventory")


# --- Product instance detail ------------------------------------------------------------------------


def renewal_state(pi, certificate, now=None):
    """Where the product instance stands with its renewals, in the guide's words where it has them."""
    now = now or timezone.now()
    last_seen = pi.last_contact_at or pi.registered_at
    if last_seen <= now - datetime.timedelta(days=compliance.RENEWAL_PERIOD_DAYS):
        return _("Failed to Renew: no contact for its renewal period (%(days)s days)") % {
            "days": compliance.RENEWAL_PERIOD_DAYS
        }
    if certificate is None:
        return _("Registered; no ID certificate issued by this server")
    if now >= certificate.not_after:
        return _("ID certificate expired")
    if now >= certificate.renew_after:
        return _("ID certificate renewal due")
    return _("In good standing")


def _expiration(lines):
    """The License Usage's Expiration column: a date, "Never" (perpetual) or "Multiple terms"."""
    ends = {line["end_date"] for line in lines}
    if not ends:
        return ""
    if ends == {None}:
        return _("Never")
    if len(ends) == 1:
        return next(iter(ends)).isoformat()
    return _("Multiple terms")


@account_page
@require_GET
def product_instance_detail(request, account, pi_id):
    vas = visible_virtual_accounts(request, account)
    pi = get_object_or_404(
        ProductInstance.objects.select_related("virtual_account", "device"), pk=pi_id, virtual_account__in=vas
    )
    va = pi.virtual_account
    va.account = account
    url = reverse("licensing_product_instance_detail", args=[account.pk, pi.pk])
    tab = _tab(request, PRODUCT_INSTANCE_TABS)
    context = {
        "virtual_account": va,
        "pi": pi,
        "device": getattr(pi, "device", None),
        "tab": tab,
        "detail_tabs": _tab_bar(url, PRODUCT_INSTANCE_TABS, tab),
        "back_url": inventory_url("licensing_inventory_product_instances", account, va),
    }
    if tab == "overview":
        now = timezone.now()
        certificate = (
            DeviceCertificate.objects.filter(product_instance=pi, revoked_at__isnull=True, superseded_at__isnull=True)
            .order_by("-issued_at", "-id")
            .first()
        )
        usages = list(
            LicenseUsage.objects.filter(product_instance=pi)
            .select_related("license")
            .order_by("license__name", "license_id")
        )
        lines = {}
        if usages:
            for line in (
                Entitlement.objects.filter(
                    valid_on_q(now.date()), virtual_account=va, license__in=[u.license_id for u in usages]
                )
                .values("license_id", "end_date")
                .distinct()
            ):
                lines.setdefault(line["license_id"], []).append(line)
        peers = []
        if pi.redundancy_group:
            peers = list(
                ProductInstance.objects.filter(
                    account=account, redundancy_group=pi.redundancy_group, virtual_account__in=vas
                )
                .exclude(pk=pi.pk)
                .select_related("virtual_account")
                .order_by("hostname", "pk")
            )
        context.update(
            certificate=certificate,
            renewal_state=renewal_state(pi, certificate, now),
            peers=peers,
            third_party_keys=third_party_keys.deliveries(pi),
            usages=[
                {
                    "license": u.license,
                    "count": u.count,
                    "expiration": _expiration(lines.get(u.license_id, [])),
                    "url": reverse("licensing_license_detail", args=[account.pk, va.pk, u.license_id]),
                }
                for u in usages
            ],
            reservations=reservation_service.reservations_of(pi, as_of=now.date()),
            may_reserve=can(request, Action.RESERVE_LICENSES, account=account, virtual_account=va),
            reservations_url=reverse("licensing_product_instance_reservations", args=[account.pk, pi.pk]),
        )
    else:
        context["table"] = _event_table(request, account, va, pi.display_name)
    return render_workspace(
        request, "licensing/detail_product_instance.html", context, account=account, section="inventory"
    )


__all__ = ["license_detail", "product_instance_detail", "usage_chart", "renewal_state"]
