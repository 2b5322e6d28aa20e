"""7-9. License usage, license subscriptions, license transfer."""

from collections import defaultdict

from django.db.models import F, Q
from drf_spectacular.utils import extend_schema

from accounts.rbac import Action, can
from core.english import english_display
from core.errors import NotAllowed, ServiceError

from ...models import Entitlement, LicenseDefinition, VirtualAccount
from ...models.licenses import valid_on_q
from ...services import compliance, ports
from ...services import transfers as transfer_service
from .. import schemas
from ..cursors import Keyset, cursor_page, tail_of
from ..lookups import account_named, chosen_virtual_accounts, left_out_message, require, virtual_account_named
from ..pagination import page
from ..replies import ERROR, SUCCESS, ApiError, ApiView, actor, batch_result, reply, validate
from ..serializers import (
    LicenseTransferDocSerializer,
    LicenseTransferItemSerializer,
    LicenseTransferSerializer,
    SubscriptionsSerializer,
    UsageSerializer,
)
from ..streaming import iterate, streamed_reply
from .formats import api_date


def _line_detail(line):
    # A perpetual line has no term: the guide's perpetual details are "" for both dates, whatever
    # day the line was bought on.
    perpetual = line.license_type == Entitlement.LicenseType.PERPETUAL
    return {
        "licenseType": english_display(line, "license_type"),
        "quantity": line.quantity,
        "startDate": "" if perpetual else api_date(line.start_date),
        "endDate": "" if perpetual else api_date(line.end_date),
        "subscriptionId": line.subscription_id,
    }


PREPAID = "PREPAID"


def billing_type(definition):
    """The cloud API's ``billingType``: PREPAID (bought) or USAGE (billed on use)."""
    return definition.billing_type.upper()


def _details_by_position(positions, as_of):
    """{(va id, license id): [licenseDetails]} for a page of positions, in one query."""
    if not positions:
        return {}
    lines = Entitlement.objects.filter(
        valid_on_q(as_of),
        virtual_account_id__in={p.virtual_account_id for p in positions},
        license_id__in={p.license_id for p in positions},
    ).order_by(F("end_date").asc(nulls_last=True), "pk")  # dated lines first, as the guide shows
    details = defaultdict(list)
    for line in lines:
        details[(line.virtual_account_id, line.license_id)].append(_line_detail(line))
    return details


def _license_record(position, details, flags):
    return {
        "license": position.license,
        "virtualAccount": position.virtual_account,
        "quantity": position.purchased,
        "inUse": position.in_use,
        "available": position.available,
        "status": position.status,
        "billingType": flags[position.license_id][0].upper() if position.license_id in flags else PREPAID,
        "ahaApps": False,
        "pendingQuantity": position.pending_quantity,
        # Reserved for product instances of the virtual account (licensing.services.reservations);
        # ``available`` is net of them.
        "reserved": position.reserved,
        # CSSM lets the account port this license (Inventory > Licenses > Port).
        "isPortable": flags.get(position.license_id, (None, False))[1],
        "licenseDetails": details.get((position.virtual_account_id, position.license_id), []),
        "licenseSubstitutions": [
            {
                "license": s.license,
                "substitutedLicense": s.substituted_license,
                "substitutedQuantity": s.quantity,
                "substitutionType": s.substitution_type,
            }
            for s in position.substitutions
        ],
    }


# The positions' own order (compliance.license_positions): VA name, VA id, license name, license
# id: the ids make it total, so a cursor names one place in it. Positions are aggregates made in
# Python (a fixed number of queries), so the cursor is applied to that list.
LICENSE_KEYSET = Keyset(
    "license_usage",
    ("virtual_account", "virtual_account_id", "license", "license_id"),
    (str, int, str, int),
    key_of=lambda p: (p.virtual_account, p.virtual_account_id, p.license, p.license_id),
)
# The subscriptions' order; the line's id breaks ties.
SUBSCRIPTION_ORDER = ("subscription_id", "virtual_account__name", "license__name", "pk")
SUBSCRIPTION_KEYSET = Keyset(
    "license_subscriptions",
    SUBSCRIPTION_ORDER,
    (str, str, str, int),
    key_of=lambda line: (line.subscription_id, line.virtual_account.name, line.license.name, line.pk),
)


class LicenseUsageView(ApiView):
    @extend_schema(
        operation_id="license_usage",
        summary="Smart License usage",
        request=UsageSerializer,
        responses=schemas.responses(schemas.LicenseUsageReply),
    )
    def post(self, request, account):
        account = account_named(
            request, account, refusal="Not Authorized to access licenses for local Account '{domain}'"
        )
        data = validate(UsageSerializer, request.data)
        vas, left_out = chosen_virtual_accounts(
            request,
            account,
            data.get("virtualAccounts"),
            refusal="Not Authorized to access licenses for specified local Virtual Accounts",
        )
        cursor = cursor_page(LICENSE_KEYSET, data, account, virtualAccounts=data.get("virtualAccounts"))
        as_of = compliance.today()
        # The positions are aggregates (one per virtual account and license), computed in a
        # fixed number of queries whatever the number of product instances.
        positions = compliance.license_positions(account, as_of=as_of, virtual_accounts=vas) if vas else []
        if cursor is None:
            shown = page(positions, data["limit"], data["offset"])
        else:
            shown = list(cursor.page(cursor.items(positions, data["limit"]), data["limit"]))
        details = _details_by_position(shown, as_of)
        # billingType and isPortable of the page's licenses, one query.
        flags = ports.billing_and_portability(account, {p.license_id for p in shown})
        extra = {} if cursor is None else {"next_cursor": cursor.next_cursor}
        return reply(
            left_out_message(account, left_out),
            totalRecords=len(positions),
            licenses=[_license_record(p, details, flags) for p in shown],
            **extra,
        )


def _subscription_status(line, today):
    expired = line.end_date is not None and line.end_date < today
    return SubscriptionsSerializer.EXPIRED if expired else SubscriptionsSerializer.ACTIVE


class LicenseSubscriptionsView(ApiView):
    @extend_schema(
        operation_id="license_subscriptions",
        summary="License subscriptions usage",
        request=SubscriptionsSerializer,
        responses=schemas.responses(schemas.SubscriptionsReply),
    )
    def post(self, request, account):
        account = account_named(
            request, account, refusal="Not Authorized to access license subscriptions for local Account {domain}"
        )
        data = validate(SubscriptionsSerializer, request.data)
        vas, left_out = chosen_virtual_accounts(
            request,
            account,
            data.get("virtualAccounts"),
            refusal="Not Authorized to access license subscriptions for specified local Virtual Accounts",
        )
        today = compliance.today()
        wanted = set(data.get("status") or ())
        # A subscription is a line bought under a subscription id. Active: not past its end
        # date; Expired: past it. On-Prem never learns of cancellations, so Canceled is empty.
        lines = Entitlement.objects.filter(virtual_account__in=vas).exclude(subscription_id="")
        if wanted:
            condition = Q(pk__in=[])
            if SubscriptionsSerializer.ACTIVE in wanted:
                condition |= Q(end_date__isnull=True) | Q(end_date__gte=today)
            if SubscriptionsSerializer.EXPIRED in wanted:
                condition |= Q(end_date__lt=today)
            lines = lines.filter(condition)
        cursor = cursor_page(
            SUBSCRIPTION_KEYSET, data, account, virtualAccounts=data.get("virtualAccounts"), status=data.get("status")
        )
        lines = lines.select_related("license", "virtual_account").order_by(*SUBSCRIPTION_ORDER)
        total = lines.count()
        if cursor is None:
            shown = iterate(page(lines, data["limit"], data["offset"]))
        else:
            shown = cursor.rows(lines, data["limit"])
        records = (_subscription_record(line, today) for line in shown)
        head = {"status": SUCCESS, "statusMessage": left_out_message(account, left_out), "totalRecords": total}
        return streamed_reply(head, "licenseSubscriptions", records, tail=tail_of(cursor))


def _subscription_record(line, today):
    return {
        "subscriptionId": line.subscription_id,
        "license": line.license.name,
        "virtualAccount": line.virtual_account.name,
        "quantity": line.quantity,
        "billingType": billing_type(line.license),
        "licenseType": english_display(line, "license_type"),
        "startDate": api_date(line.start_date),
        "endDate": api_date(line.end_date),
        "status": _subscription_status(line, today),
    }


class LicenseTransferView(ApiView):
    @extend_schema(
        operation_id="license_transfer",
        summary="Transfer licenses to other local Virtual Accounts",
        request=LicenseTransferDocSerializer,
        responses=schemas.responses(schemas.LicenseTransferReply),
    )
    def post(self, request, account, va):
        refusal = f"Not Authorized to access Virtual Account '{va}'."
        source = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        require(request, Action.TRANSFER, source, refusal)
        data = validate(LicenseTransferSerializer, request.data)
        statuses = [self._transfer(request, source, item) for item in data["licenses"]]
        moved = [s for s in statuses if s["status"] == SUCCESS]
        result, http_status = batch_result(len(moved), len(statuses))
        if result == ERROR and all(s["_forbidden"] for s in statuses):
            http_status = 403  # the guide: every item refused for want of access
        count = sum(s["_quantity"] for s in moved)
        for s in statuses:
            s.pop("_forbidden"), s.pop("_quantity")
        message = (
            "All licenses failed to transfer." if result == ERROR else f"{count} licenses transferred successfully."
        )
        return reply(message, result=result, http_status=http_status, licensesTransferStatus=statuses)

    def _transfer(self, request, source, item):
        try:
            data = validate(LicenseTransferItemSerializer, item)
            target = self._target(request, source, data["targetVirtualAccount"])
            definition = self._license(source, data["license"])
            result = transfer_service.transfer_licenses(
                actor=actor(request),
                from_va=source,
                to_va=target,
                license=definition,
                quantity=data["quantity"],
                license_type=data["licenseType"],
                precedence=data["precedence"],
            )
        except ApiError as error:
            return _item_error(item, error.message, forbidden=error.http_status == 403)
        except NotAllowed:
            return _item_error(
                item,
                f"Not Authorized to access local Virtual Accounts '{source.name}' or '{data['targetVirtualAccount']}'.",
                forbidden=True,
            )
        except ServiceError as error:
            if error.field == "quantity":
                return _item_error(
                    item,
                    f"Quantity to transfer is greater than the available quantity for license "
                    f"'{data['license']}' license in Virtual Account '{source.name}'.",
                )
            return _item_error(item, error.message)
        return {
            **_echo(item),
            "status": SUCCESS,
            "_quantity": result.quantity,
            "_forbidden": False,
            "statusMessage": f"{result.quantity} '{data['license']}' licenses successfully transferred from "
            f"Virtual Account '{source.name}' to Virtual Account '{target.name}'."
            + (f" {result.notice}" if result.notice else ""),
        }

    def _target(self, request, source, name):
        target = VirtualAccount.objects.filter(account=source.account, name=name).first()
        if target is None:
            raise ApiError(f"Failed to find Virtual Account '{name}'.")
        target.account = source.account
        if not _can_see(request, target):
            raise ApiError(f"You do not have access to '{name}'.", http_status=403)
        return target

    def _license(self, source, name):
        definition = (
            LicenseDefinition.objects.filter(
                Q(name=name) | Q(entitlement_tag=name), entitlements__virtual_account=source
            )
            .order_by("pk")
            .first()
        )
        if definition is None:
            raise ApiError(f"Failed to find {name} license in Virtual Account {source.name}.")
        return definition


def _can_see(request, va):
    return can(request, Action.VIEW_ACCOUNT, account=va.account, virtual_account=va)


def _echo(item):
    """The request item's own fields, so a caller can match each status to what it asked."""
    if not isinstance(item, dict):
        return {}
    # Each echoed with the type the reply declares: a quantity sent as "2" is not echoed as one.
    types = {"license": str, "licenseType": str, "quantity": int, "precedence": str, "targetVirtualAccount": str}
    return {
        key: item[key]
        for key, kind in types.items()
        if key in item and isinstance(item[key], kind) and not isinstance(item[key], bool)
    }


def _item_error(item, message, forbidden=False):
    return {**_echo(item), "status": ERROR, "statusMessage": message, "_forbidden": forbidden, "_quantity": 0}
