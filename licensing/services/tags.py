"""License tags: add to / remove from licenses (one or many), rename and delete across the account.

Names are case-sensitive and unique in the local account; "since the comma is used as a
terminator, it cannot be used in a tag name". Renaming or deleting a tag changes every license
of the account that carries it ("you modify ALL the licenses in account").

Who may do what (``Action.MANAGE_LICENSE_TAGS``; docs/licensing-workspace.md, "License Tags"):

* Add / Remove License Tags act on licenses of one virtual account: the actor needs the action
  on that virtual account and the licenses must have a line there. Without a virtual account
  (the whole local account) the actor needs the action on every virtual account of it.
* Rename / delete reach every license of the account carrying the tag, so the actor needs the
  action on every virtual account that holds a license carrying it: an account-wide role, or
  VA roles covering each of those virtual accounts. A VA Administrator or User cannot rename a
  tag away from under another virtual account's licenses.

Each change records an event; a refusal writes nothing.
"""

from django.db import transaction
from django.db.models import Q

from accounts.rbac import Action, can, can_on_whole_account
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, LicenseTag, VirtualAccount

MAX_NAME_LENGTH = 100


def parse_tag_names(text):
    """The names typed in the dialog: terminated by commas or line breaks; blanks dropped, order kept."""
    names = []
    for part in (text or "").replace("\n", ",").split(","):
        part = part.strip()
        if part and part not in names:
            names.append(part)
    return names


def clean_tag_name(name):
    name = (name or "").strip() if isinstance(name, str) or name is None else None
    if not name:
        raise ServiceError("A tag name is required.", field="name")
    if "," in name:
        raise ServiceError("A tag name cannot contain a comma.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ServiceError(f"A tag name must be at most {MAX_NAME_LENGTH} characters.", field="name")
    return name


def _require(actor, account, virtual_account):
    """The actor may manage license tags on ``virtual_account``, or on the whole account without one."""
    if virtual_account is not None and virtual_account.account_id != account.pk:
        raise ServiceError("This virtual account is not in this local account.")
    if actor is None:
        return
    if virtual_account is None:
        allowed = can_on_whole_account(actor, Action.MANAGE_LICENSE_TAGS, account)
    else:
        allowed = can(actor, Action.MANAGE_LICENSE_TAGS, account=account, virtual_account=virtual_account)
    if not allowed:
        raise NotAllowed("You are not allowed to manage license tags here.")


def _require_everywhere(actor, tag):
    """Rename / delete: the actor reaches every virtual account holding a license carrying ``tag``."""
    account = tag.account
    if actor is None or can_on_whole_account(actor, Action.MANAGE_LICENSE_TAGS, account):
        return
    holders = VirtualAccount.objects.filter(
        Q(entitlements__license__license_tags=tag) | Q(entitlements__line_tags=tag), account=account
    ).distinct()
    if not can(actor, Action.MANAGE_LICENSE_TAGS, account=account) or any(
        not can(actor, Action.MANAGE_LICENSE_TAGS, account=account, virtual_account=va) for va in holders
    ):
        raise NotAllowed(
            "This tag is on licenses of local virtual accounts you may not manage: only a user who manages "
            "license tags on all of them can rename or delete it."
        )


def _check_licenses(account, licenses, virtual_account=None):
    """The licenses must be held by the account, or by ``virtual_account`` when one is named."""
    licenses = list(licenses)
    if not licenses:
        raise ServiceError("Select at least one license.", field="licenses")
    ids = {lic.pk for lic in licenses}
    lines = Entitlement.objects.filter(virtual_account__account=account, license_id__in=ids)
    if virtual_account is not None:
        lines = lines.filter(virtual_account=virtual_account)
    if ids - set(lines.values_list("license_id", flat=True)):
        where = "virtual account" if virtual_account is not None else "local account"
        raise ServiceError(f"A selected license is not in this {where}.", field="licenses")
    return licenses


def _names(names):
    if isinstance(names, str):
        names = parse_tag_names(names)
    names = [clean_tag_name(name) for name in names]
    if not names:
        raise ServiceError("Enter at least one tag name.", field="name")
    return list(dict.fromkeys(names))


def _quoted(names):
    return ", ".join(f"“{name}”" for name in names)


def _license_names(licenses):
    return _quoted(sorted(lic.name for lic in licenses))


def _record(code, *, actor, account, virtual_account, names, licenses):
    events.record(
        code,
        actor=actor,
        account=account,
        virtual_account=virtual_account,
        tag_names=_quoted(names),
        licenses=_license_names(licenses),
        pool_name=virtual_account.name if virtual_account is not None else account.name,
    )


@transaction.atomic
def add_license_tags(*, actor, account, licenses, names, virtual_account=None):
    """Add the tags ``names`` (a list, or text with commas) to every license of ``licenses`` (bulk)."""
    _require(actor, account, virtual_account)
    licenses, names = _check_licenses(account, licenses, virtual_account), _names(names)
    tags = []
    for name in names:
        tag, _ = LicenseTag.objects.get_or_create(account=account, name=name)
        tag.licenses.add(*licenses)
        tags.append(tag)
    _record(
        "license_tag.added",
        actor=actor,
        account=account,
        virtual_account=virtual_account,
        names=names,
        licenses=licenses,
    )
    return tags


@transaction.atomic
def remove_license_tags(*, actor, account, licenses, names, virtual_account=None):
    """Take the tags ``names`` off ``licenses``; the tags themselves stay in the account."""
    _require(actor, account, virtual_account)
    licenses, names = _check_licenses(account, licenses, virtual_account), _names(names)
    tags = list(LicenseTag.objects.filter(account=account, name__in=names))
    found = {tag.name for tag in tags}
    missing = [name for name in names if name not in found]
    if missing:
        raise ServiceError(f"There is no tag “{missing[0]}” in this account.", field="name")
    for tag in tags:
        tag.licenses.remove(*licenses)
    _record(
        "license_tag.removed",
        actor=actor,
        account=account,
        virtual_account=virtual_account,
        names=names,
        licenses=licenses,
    )
    return tags


@transaction.atomic
def rename_license_tag(*, actor, tag, name, virtual_account=None):
    """ "Manage License Tags": rename a tag on every license of the account."""
    _require(actor, tag.account, virtual_account)
    _require_everywhere(actor, tag)
    name = clean_tag_name(name)
    tag = LicenseTag.objects.select_for_update().select_related("account").get(pk=tag.pk)
    if LicenseTag.objects.filter(account=tag.account, name=name).exclude(pk=tag.pk).exists():
        raise ServiceError(f"A tag named “{name}” already exists in this account.", field="name")
    old_name = tag.name
    if name == old_name:
        return tag
    tag.name = name
    tag.save(update_fields=["name"])
    events.record(
        "license_tag.renamed",
        actor=actor,
        account=tag.account,
        virtual_account=virtual_account,
        old_name=old_name,
        tag_name=name,
        account_name=tag.account.name,
    )
    return tag


@transaction.atomic
def delete_license_tag(*, actor, tag, virtual_account=None):
    """Delete a tag from the entire account (it leaves every license)."""
    _require(actor, tag.account, virtual_account)
    _require_everywhere(actor, tag)
    count = tag.licenses.count()
    LicenseTag.objects.filter(pk=tag.pk).delete()
    events.record(
        "license_tag.deleted",
        actor=actor,
        account=tag.account,
        virtual_account=virtual_account,
        tag_name=tag.name,
        account_name=tag.account.name,
        count=count,
    )


__all__ = [
    "add_license_tags",
    "remove_license_tags",
    "rename_license_tag",
    "delete_license_tag",
    "parse_tag_names",
    "clean_tag_name",
]


# --- License Transaction Detail level: tags on single license lines -----------------------------


def _check_lines(virtual_account, lines):
    """The lines must be lines of ``virtual_account`` (the one the Licenses tab shows)."""
    ids = {getattr(line, "pk", line) for line in lines or ()}
    if not ids:
        raise ServiceError("Select at least one license line.", field="lines")
    found = list(
        Entitlement.objects.filter(virtual_account=virtual_account, pk__in=ids).select_related("license").order_by("pk")
    )
    if len(found) != len(ids):
        raise ServiceError("A selected license line is not in this virtual account.", field="lines")
    return found


def _line_licenses(lines):
    return list({line.license_id: line.license for line in lines}.values())


@transaction.atomic
def add_line_tags(*, actor, virtual_account, lines, names):
    """Add the tags ``names`` to every license line of ``lines`` (bulk, License Transaction Detail level)."""
    account = virtual_account.account
    _require(actor, account, virtual_account)
    lines, names = _check_lines(virtual_account, lines), _names(names)
    tags = []
    for name in names:
        tag, _ = LicenseTag.objects.get_or_create(account=account, name=name)
        tag.lines.add(*lines)
        tags.append(tag)
    _record(
        "license_tag.added",
        actor=actor,
        account=account,
        virtual_account=virtual_account,
        names=names,
        licenses=_line_licenses(lines),
    )
    return tags


@transaction.atomic
def remove_line_tags(*, actor, virtual_account, lines, names):
    """Take the tags ``names`` off the license lines ``lines``; the tags stay in the account."""
    account = virtual_account.account
    _require(actor, account, virtual_account)
    lines, names = _check_lines(virtual_account, lines), _names(names)
    tags = list(LicenseTag.objects.filter(account=account, name__in=names))
    found = {tag.name for tag in tags}
    missing = [name for name in names if name not in found]
    if missing:
        raise ServiceError(f"There is no tag “{missing[0]}” in this account.", field="name")
    for tag in tags:
        tag.lines.remove(*lines)
    _record(
        "license_tag.removed",
        actor=actor,
        account=account,
        virtual_account=virtual_account,
        names=names,
        licenses=_line_licenses(lines),
    )
    return tags
