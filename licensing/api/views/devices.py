"""10-13. Product instance usage, search, transfer and removal.

A product instance is named on the wire by its ``sudi`` (``udiPid`` + ``udiSerialNumber``
identify it within a local account) and its ``productTagName`` (the software tag).
"""

from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Coalesce, NullIf
from drf_spectacular.utils import OpenApiParameter, extend_schema

from accounts.rbac import Action, can
from core.errors import ServiceError

from ...models import LicenseUsage, ProductInstance, VirtualAccount
from ...services import compliance
from ...services import product_instances as pi_service
from .. import schemas, streaming
from ..cursors import Keyset, cursor_page, tail_of
from ..lookups import account_named, chosen_virtual_accounts, left_out_message, require, virtual_account_named
from ..pagination import page
from ..replies import ERROR, SUCCESS, ApiError, ApiView, actor, batch_result, reply, validate
from ..serializers import (
    CURSOR_HELP,
    SEARCH_PARAMETERS,
    DeviceRemoveDocSerializer,
    DeviceRemoveItemSerializer,
    DeviceRemoveSerializer,
    DeviceSearchSerializer,
    DeviceTransferDocSerializer,
    DeviceTransferItemSerializer,
    DeviceTransferSerializer,
    UsageSerializer,
)
from ..streaming import iterate, streamed_reply
from .formats import api_datetime

# Wire name -> where it is stored: on the ProductInstance, or on its DeviceIdentity (the details
# the device protocol keeps; a product instance made otherwise, e.g. by a sync, may have none).
SUDI_FIELDS = {
    "suvi": "device__suvi",
    "uuid": "device__uuid",
    "hostIdentifier": "device__host_identifier",
    "udiPid": "udi_pid",
    "udiSerialNumber": "udi_serial_number",
    "udiVid": "device__udi_vid",
    "macAddress": "device__mac_address",
}
# Exact-match filters of the device search, in the guide's "instance name" order.
SEARCH_FIELDS = {
    "hostName": "hostname",
    "udiSerialNumber": "udi_serial_number",
    "hostIdentifier": "device__host_identifier",
    "macAddress": "device__mac_address",
    "ipAddress": "device__ip_address",
    "suvi": "device__suvi",
    "uuid": "device__uuid",
}
assert tuple(SEARCH_FIELDS) == SEARCH_PARAMETERS


# What the lists read, as plain rows (``QuerySet.values``): no model instances per device.
ROW_FIELDS = sorted(
    {
        "pk",
        "virtual_account_id",
        "hostname",
        "product_name",
        "registered_at",
        "last_contact_at",
        "device__software_tag",
        "device__product_type",
        *SUDI_FIELDS.values(),
        *SEARCH_FIELDS.values(),
    }
)


def sudi(row, missing=None):
    """The instance's SUDI; an identifier it never sent is ``missing``: null in the device search
    (the guide's search example), "" in the device usage list (the guide's usage example)."""
    return {wire: row[field] or missing for wire, field in SUDI_FIELDS.items()}


def product_tag(row):
    return row["device__software_tag"] or ""


def instance_name(row):
    """The guide: "Hostname, UDI Serial Number, Host Identifier, Mac Address, IP Address, SUVI,
    UUID, whichever is available first"."""
    return next((row[field] for field in SEARCH_FIELDS.values() if row[field]), "")


INSTANCE_NAME = "instanceName"


def instance_name_expression():
    """``instance_name`` in SQL: the first non-empty of the search fields, in the guide's order."""
    return Coalesce(*(NullIf(F(field), Value("")) for field in SEARCH_FIELDS.values()), output_field=CharField())


# Both device lists' order: the product-instance list-order index (account, hostname, udi_pid,
# udi_serial_number, id), which a cursor page enters at its cursor (``cursors.RowAfter``).
LIST_ORDER = ("hostname", "udi_pid", "udi_serial_number", "pk")


def _row_key(row):
    return tuple(row[column] for column in LIST_ORDER)


USAGE_KEYSET = Keyset("device_usage", LIST_ORDER, (str, str, str, int), key_of=_row_key)
SEARCH_KEYSET = Keyset("device_search", LIST_ORDER, (str, str, str, int), key_of=_row_key)


def rows_of(devices, data, cursor=None):
    """The page of ``devices`` (ordered by LIST_ORDER) as rows, read from the database in chunks:
    by ``limit``/``offset``, or from ``cursor`` on (a ``cursors.CursorPage``)."""
    rows = devices.values(*ROW_FIELDS)
    if cursor is None:
        return iterate(page(rows, data["limit"], data["offset"]))
    return cursor.rows(rows, data["limit"])


def chunks(rows, size=None):
    size = size or streaming.CHUNK_SIZE
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def with_usage(rows):
    """Each row with its ``usage`` [(license id, license name, count)]: one query per chunk of rows."""
    for chunk in chunks(rows):
        usage = {}
        for pi_id, license_id, name, count in (
            LicenseUsage.objects.filter(product_instance_id__in=[row["pk"] for row in chunk])
            .order_by("license__name", "license_id")
            .values_list("product_instance_id", "license_id", "license__name", "count")
        ):
            usage.setdefault(pi_id, []).append((license_id, name, count))
        for row in chunk:
            row["usage"] = usage.get(row["pk"], [])
            yield row


class DeviceUsageView(ApiView):
    @extend_schema(
        operation_id="device_usage",
        summary="Product instance usage",
        request=UsageSerializer,
        responses=schemas.responses(schemas.DeviceUsageReply),
    )
    def post(self, request, account):
        account = account_named(
            request, account, refusal="Not Authorized to access devices for local Account '{domain}'"
        )
        data = validate(UsageSerializer, request.data)
        vas, left_out = chosen_virtual_accounts(
            request,
            account,
            data.get("virtualAccounts"),
            refusal="Not Authorized to access devices for specified local Virtual Accounts",
        )
        cursor = cursor_page(USAGE_KEYSET, data, account, virtualAccounts=data.get("virtualAccounts"))
        # A product instance is Out Of Compliance when a license it uses is, in its virtual
        # account: known from the aggregate positions, not per device.
        short = {
            (p.virtual_account_id, p.license_id)
            for p in (compliance.license_positions(account, virtual_accounts=vas) if vas else [])
            if p.status == compliance.OUT_OF_COMPLIANCE
        }
        names = {va.pk: va.name for va in vas}
        devices = ProductInstance.objects.filter(account=account, virtual_account__in=list(names)).order_by(*LIST_ORDER)
        total = devices.count()
        rows = with_usage(rows_of(devices, data, cursor))
        head = {"status": SUCCESS, "statusMessage": left_out_message(account, left_out), "totalRecords": total}
        return streamed_reply(head, "devices", (_usage_record(row, names, short) for row in rows), tail=tail_of(cursor))


def _usage_record(row, va_names, short):
    va_id = row["virtual_account_id"]
    out = any((va_id, license_id) in short for license_id, _, _ in row["usage"])
    return {
        "virtualAccount": va_names[va_id],
        "hostName": row["hostname"],
        "sudi": sudi(row, missing=""),
        "productName": row["product_name"],
        "productDescription": row["product_name"],
        "productTagName": product_tag(row),
        "productType": row["device__product_type"] or "",
        "status": compliance.OUT_OF_COMPLIANCE if out else compliance.IN_COMPLIANCE,
        "registrationDate": api_datetime(row["registered_at"]),
        "lastContactDate": api_datetime(row["last_contact_at"]),
        "licenseUsage": [{"license": name, "quantity": count} for _, name, count in row["usage"]],
    }


class DeviceSearchView(ApiView):
    query_parameters = tuple(DeviceSearchSerializer().fields)
    body_methods = frozenset()

    @extend_schema(
        operation_id="device_search",
        summary="Search the product instances of a local Virtual Account",
        parameters=[OpenApiParameter(name, str, description="Exact match") for name in SEARCH_PARAMETERS]
        + [
            OpenApiParameter(
                "instanceName",
                str,
                description="Exact match on the instance name: the first of hostName, udiSerialNumber, "
                "hostIdentifier, macAddress, ipAddress, suvi, uuid that the instance has.",
            )
        ]
        + [
            OpenApiParameter("limit", int, description="Records to return; -1 for all. Default 50."),
            OpenApiParameter("offset", int, description="Records to skip. Default 0."),
            OpenApiParameter("cursor", str, description=CURSOR_HELP),
        ],
        responses=schemas.responses(schemas.DeviceSearchReply),
    )
    def get(self, request, account, va):
        refusal = f"Not Authorized to access Virtual Account '{va}'."
        va = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        data = validate(DeviceSearchSerializer, request.query_params)
        filters = {parameter: data[parameter] for parameter in (*SEARCH_FIELDS, INSTANCE_NAME) if parameter in data}
        cursor = cursor_page(SEARCH_KEYSET, data, va.account, virtualAccount=va.pk, **filters)
        devices = ProductInstance.objects.filter(account=va.account, virtual_account=va)
        for parameter, value in filters.items():
            if parameter == INSTANCE_NAME:
                devices = devices.annotate(instance_name=instance_name_expression()).filter(instance_name=value)
            else:
                devices = devices.filter(**{SEARCH_FIELDS[parameter]: value})  # exact match, on an indexed column
        devices = devices.order_by(*LIST_ORDER)
        total = devices.count()
        records = (
            {"instanceName": instance_name(row), "sudi": sudi(row), "productTagName": product_tag(row)}
            for row in rows_of(devices, data, cursor)
        )
        return streamed_reply(
            {"status": SUCCESS, "statusMessage": "", "totalRecords": total}, "devices", records, tail=tail_of(cursor)
        )


def _find_device(va, item):
    """The product instance of ``va`` the request item names, or None."""
    ident = item["sudi"]
    devices = ProductInstance.objects.filter(
        account_id=va.account_id,
        virtual_account=va,
        udi_pid=ident["udiPid"],
        udi_serial_number=ident["udiSerialNumber"],
    )
    tag = item.get("productTagName")
    if tag:
        # A product instance that never told its software tag (made by a sync) matches on its UDI.
        devices = devices.filter(Q(device__software_tag=tag) | Q(device__isnull=True) | Q(device__software_tag=""))
    pi = devices.first()
    if pi is not None:
        pi.virtual_account = va
    return pi


def _device_label(item):
    ident = item.get("sudi") if isinstance(item, dict) else None
    if isinstance(ident, dict) and isinstance(ident.get("udiPid"), str):
        return ident["udiPid"]
    return "unknown"


class DeviceTransferView(ApiView):
    @extend_schema(
        operation_id="device_transfer",
        summary="Transfer up to 10 product instances",
        request=DeviceTransferDocSerializer,
        responses=schemas.responses(schemas.DeviceTransferReply),
    )
    def post(self, request, account, va):
        refusal = f"Not Authorized to access Virtual Account '{va}'."
        source = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        require(request, Action.TRANSFER, source, refusal)
        data = validate(DeviceTransferSerializer, request.data)
        statuses = [self._transfer(request, source, item) for item in data["productInstances"]]
        moved = sum(s["status"] == SUCCESS for s in statuses)
        result, http_status = batch_result(moved, len(statuses))
        if result == ERROR and all(s["_forbidden"] for s in statuses):
            http_status = 403  # every item refused for want of access, as the license transfer answers
        for s in statuses:
            s.pop("_forbidden")
        message = (
            "all the product instances failed to transfer"
            if result == ERROR
            else f"{moved} product instances transferred successfully."
        )
        return reply(message, result=result, http_status=http_status, productsTransferStatus=statuses)

    def _transfer(self, request, source, item):
        label = _device_label(item)
        try:
            data = validate(DeviceTransferItemSerializer, item)
            name = data["targetVirtualAccount"]
            target = VirtualAccount.objects.filter(account=source.account, name=name).first()
            if target is None:
                raise ApiError(f"Failed to find Virtual Account '{name}'.")
            target.account = source.account
            if not can(
                request, Action.TRANSFER, account=source.account, virtual_account=source, to_virtual_account=target
            ):
                raise ApiError(f"Not Authorized to access Virtual Account '{name}'.", http_status=403)
            pi = _find_device(source, data)
            if pi is None:
                raise ApiError(f"Failed to find device '{label}' in Virtual Account '{source.name}'.")
            pi_service.transfer_product_instance(actor=actor(request), pi=pi, to_va=target)
        except ApiError as error:
            return {"status": ERROR, "statusMessage": error.message, "_forbidden": error.http_status == 403}
        except ServiceError as error:
            return {"status": ERROR, "statusMessage": error.message, "_forbidden": False}
        return {
            "status": SUCCESS,
            "_forbidden": False,
            "statusMessage": f"Device '{label}' successfully transferred from Virtual Account "
            f"'{source.name}' to Virtual Account '{target.name}'.",
        }


class DeviceRemoveView(ApiView):
    @extend_schema(
        operation_id="device_remove",
        summary="Remove product instances",
        request=DeviceRemoveDocSerializer,
        responses=schemas.responses(schemas.DeviceRemoveReply, schemas.AnyErrorReply),
    )
    def post(self, request, account, va):
        refusal = f"Not Authorized to remove product instances from Virtual Account '{va}'."
        va = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        require(request, Action.REMOVE_PRODUCT_INSTANCES, va, refusal)
        data = validate(DeviceRemoveSerializer, request.data)
        statuses = [self._remove(request, va, item) for item in data["productInstanceRemoveRequests"]]
        removed = sum(s["status"] == SUCCESS for s in statuses)
        result, http_status = batch_result(removed, len(statuses))
        message = (
            f"{removed} Product Instance(s) removed successfully."
            if removed
            else "Product Instance(s) could not be removed."
        )
        return reply(
            {"statusMessage": message, "removeProductInstancesStatus": statuses}, result=result, http_status=http_status
        )

    def _remove(self, request, va, item):
        device = _device_text(item)
        try:
            data = validate(DeviceRemoveItemSerializer, item)
            pi = _find_device(va, data)
            if pi is None:
                raise ApiError(f"Failed to find device with specified information in Virtual Account '{va.name}'.")
            name = pi.display_name
            pi_service.remove_product_instance(actor=actor(request), pi=pi)
        except (ApiError, ServiceError) as error:
            return {"status": ERROR, "statusMessage": error.message, "device": device}
        return {
            "status": SUCCESS,
            "statusMessage": f"The Product Instance {name} was successfully removed.",
            "device": device,
        }


def _device_text(item):
    """The guide's ``"device": "udiPid:CSR1000V udiSerialNumber:97N1PAGTEOZ"``."""
    ident = item.get("sudi") if isinstance(item, dict) else None
    if not isinstance(ident, dict):
        return ""
    return " ".join(f"{key}:{ident[key]}" for key in SUDI_FIELDS if isinstance(ident.get(key), str) and ident[key])
