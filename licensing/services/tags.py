"""License tags: add to / remove from licenses (one or many), rename and delete across the account.

Names are case-sensitive and unique in the local account; "since the comma is used as a
terminator, it cannot be used in a tag name". A tag can only be put on a license the local
account holds (it has a line of it in one of its virtual accounts). Renaming or deleting a tag
changes every license of the account that carries it ("you modify ALL the licenses in account").
"""

from django.db import transaction

from accounts.rbac import Action, can
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, LicenseTag

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
    if virtual_account is not None and virtual_account.account_id != account.pk:
        raise ServiceError("This virtual account is not in this local account.")
    if actor is not None and not can(
        actor, Action.MANAGE_LICENSE_TAGS, account=account, virtual_account=virtual_account
    ):
        raise NotAllowed("You are not allowed to manage license tags here.")


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
    return tags


@transaction.atomic
def rename_license_tag(*, actor, tag, name, virtual_account=None):
    """ "Manage License Tags": rename a tag on every license of the account."""
    _require(actor, tag.account, virtual_account)
    name = clean_tag_name(name)
    tag = LicenseTag.objects.select_for_update().get(pk=tag.pk)
    if LicenseTag.objects.filter(account=tag.account, name=name).exclude(pk=tag.pk).exists():
        raise ServiceError(f"A tag named “{name}” already exists in this account.", field="name")
    tag.name = name
    tag.save(update_fields=["name"])
    return tag


@transaction.atomic
def delete_license_tag(*, actor, tag, virtual_account=None):
    """Delete a tag from the entire account (it leaves every license)."""
    _require(actor, tag.account, virtual_account)
    LicenseTag.objects.filter(pk=tag.pk).delete()


__all__ = [
    "add_license_tags",
    "remove_license_tags",
    "rename_license_tag",
    "delete_license_tag",
    "parse_tag_names",
    "clean_tag_name",
]
