"""Smart Licensing > Reports: the list of reports, the Run Report form, the report in page, and
its exports to CSV and Excel.

Everything is a GET (a report changes nothing), so a report is a URL that can be bookmarked:
``/accounts/<id>/reports/<kind>/?run=1&name=...&va_scope=...``. The form's three buttons send
the same fields to three URLs (the page, ``export.csv``, ``export.xlsx``). Invalid criteria (an
unknown or invisible local virtual account, an unknown license) re-show the form with the error
and answer 400; a bad sort or page falls back to the default sort / a valid page (``Listing``).

RBAC: ``account_page`` answers 404 for an account the principal cannot see; the virtual
accounts a report may cover are ``visible_virtual_accounts`` — "All Local Virtual Accounts"
means all of those, and a chosen one outside them is an invalid choice.
"""

import re
import tempfile

from django import forms
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from accounts.rbac import visible_virtual_accounts
from core.csv_export import csv_response
from core.listing import Listing
from licensing.models import Entitlement, LicenseDefinition, LicenseTag, LicenseUsage, VirtualAccountTagValue
from licensing.services import reports as report_service

from .row_listing import RowListing
from .workspace import account_page, render_workspace

PAGE_SIZE = 50
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ALL, SELECTED, TAGGED, UNTAGGED = "all", "selected", "tags", "untagged"
NUMERIC_COLUMNS = {"purchased", "pending", "in_use", "borrowed", "lent", "balance", "quantity", "licenses_in_use"}


class ReportForm(forms.Form):
    """The Run License Report / Product Instance Report dialog (guide, "Running Reports")."""

    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    va_scope = forms.ChoiceField(
        label=_("Local Virtual Accounts"),
        initial=ALL,
        widget=forms.RadioSelect,
        choices=[
            (ALL, _("All Local Virtual Accounts")),
            (SELECTED, _("Selected Local Virtual Accounts")),
            (TAGGED, _("Accounts with ALL of these Tags")),
        ],
    )
    virtual_accounts = forms.ModelMultipleChoiceField(
        label=_("Selected local virtual accounts"), queryset=None, required=False
    )
    va_tags = forms.ModelMultipleChoiceField(label=_("Virtual account tags"), queryset=None, required=False)

    def __init__(self, data=None, *, kind, account, visible_vas):
        super().__init__(data)
        self.kind = kind
        self.account = account
        self.visible_vas = visible_vas
        self.fields["virtual_accounts"].queryset = visible_vas
        self.fields["va_tags"].queryset = (
            VirtualAccountTagValue.objects.filter(tag__account=account)
            .select_related("tag")
            .order_by("tag__name", "value")
        )
        self.fields["va_tags"].label_from_instance = lambda value: f"{value.tag.name}: {value.value}"
        self.fields["name"].initial = report_service.REPORT_KINDS[kind].name
        if kind == report_service.PRODUCT_INSTANCES:
            self.fields["product_types"] = forms.MultipleChoiceField(
                label=_("Product Type"),
                required=False,
                choices=[(t, t) for t in report_service.product_types(list(visible_vas))],
                help_text=_("None chosen: every product type."),
            )
        else:
            self.fields["license_scope"] = forms.ChoiceField(
                label=_("Licenses"),
                initial=ALL,
                widget=forms.RadioSelect,
                choices=[
                    (ALL, _("All Licenses")),
                    (SELECTED, _("Selected Licenses")),
                    (TAGGED, _("Licenses with ALL these License Tags")),
                    (UNTAGGED, _("Licenses with NO License Tags")),
                ],
            )
            self.fields["licenses"] = forms.ModelMultipleChoiceField(
                label=_("Selected licenses"),
                required=False,
                queryset=LicenseDefinition.objects.filter(
                    Q(pk__in=Entitlement.objects.filter(virtual_account__in=visible_vas).values("license_id"))
                    | Q(
                        pk__in=LicenseUsage.objects.filter(product_instance__virtual_account__in=visible_vas).values(
                            "license_id"
                        )
                    )
                ).order_by("name", "pk"),
            )
            self.fields["license_tags"] = forms.ModelMultipleChoiceField(
                label=_("License tags"), required=False, queryset=LicenseTag.objects.filter(account=account)
            )
        if kind == report_service.SUBSCRIPTIONS:
            self.fields["subscription_status"] = forms.ChoiceField(
                label=_("Subscription Status"),
                initial=report_service.SUBSCRIPTION_ALL,
                choices=[
                    (report_service.SUBSCRIPTION_ALL, _("All Subscriptions")),
                    (report_service.SUBSCRIPTION_ACTIVE, _("Active Only")),
                    (report_service.SUBSCRIPTION_EXPIRED, _("Expired-or-Cancelled")),
                ],
            )

    def clean(self):
        data = super().clean()
        if data.get("va_scope") == SELECTED and not data.get("virtual_accounts"):
            self.add_error("virtual_accounts", _("Choose at least one local virtual account."))
        if data.get("va_scope") == TAGGED and not data.get("va_tags"):
            self.add_error("va_tags", _("Choose at least one tag."))
        if data.get("license_scope") == SELECTED and not data.get("licenses"):
            self.add_error("licenses", _("Choose at least one license."))
        if data.get("license_scope") == TAGGED and not data.get("license_tags"):
            self.add_error("license_tags", _("Choose at least one license tag."))
        return data

    def criteria(self):
        """The report's ``Criteria``, resolved with a few queries (never one per row)."""
        data = self.cleaned_data
        scope = data["va_scope"]
        if scope == SELECTED:
            vas = list(data["virtual_accounts"])
        elif scope == TAGGED:
            vas = list(
                self.visible_vas.filter(
                    pk__in=_having_all(
                        VirtualAccountTagValue.virtual_accounts.through,
                        "virtualaccounttagvalue_id",
                        data["va_tags"],
                        "virtualaccount_id",
                    )
                )
            )
        else:
            vas = list(self.visible_vas)
        for va in vas:
            va.account = self.account
        arguments = {"virtual_accounts": tuple(vas)}
        license_scope = data.get("license_scope", ALL)
        if license_scope == SELECTED:
            arguments["license_ids"] = frozenset(lic.pk for lic in data["licenses"])
        elif license_scope == TAGGED:
            arguments["license_ids"] = frozenset(
                _having_all(LicenseTag.licenses.through, "licensetag_id", data["license_tags"], "licensedefinition_id")
            )
        elif license_scope == UNTAGGED:
            arguments["excluded_license_ids"] = frozenset(
                LicenseTag.licenses.through.objects.filter(licensetag__account=self.account).values_list(
                    "licensedefinition_id", flat=True
                )
            )
        if "subscription_status" in data:
            arguments["subscription_status"] = data["subscription_status"]
        if data.get("product_types"):
            arguments["product_types"] = tuple(data["product_types"])
        return report_service.Criteria(**arguments)

    def scope_text(self):
        data = self.cleaned_data
        if data["va_scope"] == SELECTED:
            return ", ".join(va.name for va in data["virtual_accounts"])
        if data["va_scope"] == TAGGED:
            return str(_("With all of the tags: %(tags)s")) % {
                "tags": ", ".join(f"{v.tag.name}: {v.value}" for v in data["va_tags"])
            }
        return str(_("All Local Virtual Accounts"))


def _having_all(through, tag_column, tags, target_column):
    """The ids of ``target_column`` linked to every one of ``tags`` in the M2M table ``through``."""
    tag_ids = [tag.pk for tag in tags]
    return (
        through.objects.filter(**{f"{tag_column}__in": tag_ids})
        .values(target_column)
        .annotate(n=Count(tag_column, distinct=True))
        .filter(n=len(set(tag_ids)))
        .values_list(target_column, flat=True)
    )


def _kind_or_404(kind):
    if kind not in report_service.REPORT_KINDS:
        raise Http404("No such report.")
    return report_service.REPORT_KINDS[kind]


def _form(request, account, kind, *, bound):
    return ReportForm(
        request.GET if bound else None,
        kind=kind,
        account=account,
        visible_vas=visible_virtual_accounts(request, account),
    )


def _render_form(request, account, report, form, status=200):
    return render_workspace(
        request,
        "licensing/reports_form.html",
        {
            "report": report,
            "form": form,
            "page_url": reverse("licensing_report", args=[account.pk, report.key]),
            "csv_url": reverse("licensing_report_csv", args=[account.pk, report.key]),
            "xlsx_url": reverse("licensing_report_xlsx", args=[account.pk, report.key]),
            "back_url": reverse("licensing_reports", args=[account.pk]),
        },
        account=account,
        section="reports",
        status=status,
    )


def _table(request, kind, rows):
    """The report as shown: the rows sorted by a whitelisted column, one page of them."""
    sorts = report_service.SORTS[kind]
    if isinstance(rows, list):
        return RowListing(request, rows, sorts=sorts, page_size=PAGE_SIZE)
    return Listing(request, rows, sorts=sorts, page_size=PAGE_SIZE)


def _sorted_rows(table):
    return table.rows if isinstance(table, RowListing) else table.paginator.object_list


def _display(value):
    if value is None or value == "":
        return "—"
    if hasattr(value, "tzinfo"):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _detail_url(account, kind, row):
    if kind == report_service.PRODUCT_INSTANCES:
        return reverse("licensing_product_instance_detail", args=[account.pk, row["pk"]])
    return reverse("licensing_license_detail", args=[account.pk, row["virtual_account_id"], row["license_id"]])


# --- Views ----------------------------------------------------------------------------------------


@account_page
@require_GET
def reports(request, account):
    """The Reports table: each report's name (a link to its form) and description."""
    return render_workspace(
        request,
        "licensing/reports.html",
        {
            "reports": [
                {
                    "name": report.name,
                    "description": report.description,
                    "url": reverse("licensing_report", args=[account.pk, report.key]),
                }
                for report in report_service.REPORT_KINDS.values()
            ],
        },
        account=account,
        section="reports",
    )


@account_page
@require_GET
def report(request, account, kind):
    """The Run Report form; with ``run`` and valid criteria, the report itself (paginated, sortable)."""
    report_kind = _kind_or_404(kind)
    form = _form(request, account, kind, bound=bool(request.GET.get("run")))
    if not form.is_bound:
        return _render_form(request, account, report_kind, form)
    if not form.is_valid():
        return _render_form(request, account, report_kind, form, status=400)
    rows = report_service.run_report(kind, account, form.criteria())
    table = _table(request, kind, rows)
    keys = [key for key, _label in report_kind.columns]
    page_rows = []
    for row in table.page:
        values = report_service.cells(kind, row)
        page_rows.append(
            {
                "url": _detail_url(account, kind, row),
                "cells": [
                    {"value": _display(values[key]), "numeric": key in NUMERIC_COLUMNS, "key": key} for key in keys
                ],
            }
        )
    params = request.GET.copy()
    params.pop("page", None)
    query = params.urlencode()
    edit = request.GET.copy()
    for key in ("run", "page", "sort"):
        edit.pop(key, None)
    return render_workspace(
        request,
        "licensing/reports_result.html",
        {
            "report": report_kind,
            "table": table,
            "rows": page_rows,
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data["description"],
            "scope": form.scope_text(),
            "columns": [
                {
                    "key": key,
                    "label": label,
                    "sortable": key in report_service.SORTS[kind],
                    "numeric": key in NUMERIC_COLUMNS,
                }
                for key, label in report_kind.columns
            ],
            "csv_url": f"{reverse('licensing_report_csv', args=[account.pk, kind])}?{query}",
            "xlsx_url": f"{reverse('licensing_report_xlsx', args=[account.pk, kind])}?{query}",
            "back_url": f"{reverse('licensing_report', args=[account.pk, kind])}?{edit.urlencode()}",
        },
        account=account,
        section="reports",
    )


def _export(request, account, kind, write):
    report_kind = _kind_or_404(kind)
    form = _form(request, account, kind, bound=True)
    if not form.is_valid():
        return _render_form(request, account, report_kind, form, status=400)
    rows = report_service.run_report(kind, account, form.criteria())
    table = _table(request, kind, rows)
    stem = f"{form.cleaned_data['name']}_{timezone.now():%Y%m%d%H%M%S}"
    return write(stem, report_kind, report_service.export_rows(kind, _sorted_rows(table)))


@account_page
@require_GET
def report_csv(request, account, kind):
    def write(stem, report_kind, rows):
        return csv_response(_file_name(stem, "csv"), report_service.header(report_kind.key), rows)

    return _export(request, account, kind, write)


@account_page
@require_GET
def report_xlsx(request, account, kind):
    def write(stem, report_kind, rows):
        return xlsx_response(
            _file_name(stem, "xlsx"), str(report_kind.name), report_service.header(report_kind.key), rows
        )

    return _export(request, account, kind, write)


def _file_name(stem, extension):
    return get_valid_filename(f"{stem}.{extension}") or f"report.{extension}"


# --- Excel ----------------------------------------------------------------------------------------

SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/*?:\[\]]")


def xlsx_cell(sheet, value):
    """One cell. Text is always text: a value someone typed that starts with "=" must never become
    a formula on the desk of whoever opens the file; characters XML cannot carry are dropped.
    A translated label (lazy) is written in the reader's language."""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith("="):
            cell = WriteOnlyCell(sheet, value=None)
            cell.value = value
            cell.data_type = "s"
            return cell
    return value


def xlsx_response(filename, sheet_title, header, rows):
    """An .xlsx attachment of ``header`` and ``rows``.

    openpyxl's write-only workbook writes each row out as it is appended (inline strings, no
    shared-string table), and the finished file goes to an anonymous temporary file that the
    response streams and then closes: memory stays bounded however many rows there are.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=SHEET_TITLE_FORBIDDEN.sub(" ", sheet_title)[:31] or "Report")
    sheet.append([xlsx_cell(sheet, label) for label in header])
    for row in rows:
        sheet.append([xlsx_cell(sheet, value) for value in row])
    handle = tempfile.TemporaryFile()
    try:
        workbook.save(handle)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
    response["X-Content-Type-Options"] = "nosniff"
    return response
