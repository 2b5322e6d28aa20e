"""Manage Account > Custom Tags: virtual account custom tags, their values, and which local
virtual accounts hold which values (the guide's "Adding Custom Tags to a Local Virtual Account").

Every rule (Required / Optional, One Tag Value Only / Allow Multiple, no commas in values) is
checked before anything is written, and every change is one transaction; only
``Action.MANAGE_CUSTOM_TAGS`` may manage them. The rules: docs/licensing-preferences-conversion-tags.md,
"Custom Tags".
"""

from dataclasses import dataclass, field

from django.db import transaction

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import LocalAccount, VirtualAccountTag, VirtualAccountTagValue

NAME_MAX = 100
DESCRIPTION_MAX = 255
VALUE_MAX = 100
VALUES_MAX = 200


@dataclass
class TagDraft:
    """A checked custom tag: what the wizard carries from step to step and the services write."""

    name: str
    description: str = ""
    required: bool = False
    multiple_values: bool = False
    values: list = field(default_factory=list)
    # {virtual account id: [value, ...]}; virtual accounts without values may be left out.
    assignments: dict = field(default_factory=dict)


def _require(actor, account):
    if actor is not None and not can(actor, Action.MANAGE_CUSTOM_TAGS, account=account):
        raise NotAllowed("Only an Account Administrator can manage custom tags.")


def parse_values(text):
    """ "Enter the Tag Value(s) separated by commas": the values, in order, or a ServiceError."""
    if not isinstance(text, str):
        raise ServiceError("Enter the tag values separated by commas.", field="values")
    return check_values(text.split(","))


def check_values(values):
    """A list of values: trimmed, blanks dropped; none may contain a comma, be too long or repeat."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise ServiceError("Enter the tag values separated by commas.", field="values")
    values = [v.strip() for v in values if v.strip()]
    if any("," in v for v in values):
        raise ServiceError("A tag value cannot contain a comma: commas separate the values.", field="values")
    if not values:
        raise ServiceError("Enter at least one tag value.", field="values")
    if len(values) > VALUES_MAX:
        raise ServiceError(f"A tag can have at most {VALUES_MAX} values.", field="values")
    seen = set()
    for value in values:
        if len(value) > VALUE_MAX:
            raise ServiceError(f"A tag value can have at most {VALUE_MAX} characters: “{value[:20]}…”.", field="values")
        if value in seen:
            raise ServiceError(f"The tag value “{value}” is entered twice.", field="values")
        seen.add(value)
    return values


def check_details(account, *, name, description="", tag=None):
    """Step 1 of the wizard: the name and description."""
    name = (name or "").strip() if isinstance(name, str) else ""
    description = (description or "").strip() if isinstance(description, str) else ""
    if not name:
        raise ServiceError("Enter the Tag Name.", field="name")
    if len(name) > NAME_MAX:
        raise ServiceError(f"The Tag Name can have at most {NAME_MAX} characters.", field="name")
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(f"The description can have at most {DESCRIPTION_MAX} characters.", field="description")
    taken = VirtualAccountTag.objects.filter(account=account, name=name)
    if tag is not None:
        taken = taken.exclude(pk=tag.pk)
    if taken.exists():
        raise ServiceError(f"A custom tag named “{name}” already exists in this account.", field="name")
    return name, description


def check_assignments(account, draft, virtual_accounts=None):
    """Step 3: the values given to each local virtual account keep the tag's rules."""
    vas = list(virtual_accounts if virtual_accounts is not None else account.virtual_accounts.all())
    by_id = {va.pk: va for va in vas}
    known = set(draft.values)
    clean = {}
    for va_id, values in (draft.assignments or {}).items():
        if va_id not in by_id:
            raise ServiceError("A local Virtual Account of another account cannot be tagged here.", field="assignments")
        values = list(dict.fromkeys(values))
        unknown = [v for v in values if v not in known]
        if unknown:
            raise ServiceError(f"“{unknown[0]}” is not a value of this tag.", field="assignments")
        if len(values) > 1 and not draft.multiple_values:
            raise ServiceError(
                f"The tag “{draft.name}” allows one tag value only: choose one value for the local "
                f"Virtual Account “{by_id[va_id].name}”.",
                field="assignments",
            )
        if values:
            clean[va_id] = values
    if draft.required:
        missing = [va.name for va in vas if va.pk not in clean]
        if missing:
            raise ServiceError(
                f"The tag “{draft.name}” is required: select a tag value for each local Virtual "
                f"Account (" + ", ".join(f"“{n}”" for n in missing) + ").",
                field="assignments",
            )
    draft.assignments = clean
    return draft


def check_tag(account, draft, tag=None):
    """All of it, as the final step and the edit form submit it."""
    draft.name, draft.description = check_details(account, name=draft.name, description=draft.description, tag=tag)
    draft.values = check_values(draft.values)
    return check_assignments(account, draft)


def _write_values(tag, draft):
    """Make the tag's values and their virtual accounts exactly ``draft``'s (a few queries in all)."""
    existing = {v.value: v for v in tag.values.all()}
    tag.values.exclude(value__in=draft.values).delete()
    rows = []
    for value in draft.values:
        row = existing.get(value) or VirtualAccountTagValue.objects.create(tag=tag, value=value)
        rows.append(row)
    through = VirtualAccountTagValue.virtual_accounts.through
    through.objects.filter(virtualaccounttagvalue__tag=tag).delete()
    ids = {row.value: row.pk for row in rows}
    through.objects.bulk_create(
        [
            through(virtualaccounttagvalue_id=ids[value], virtualaccount_id=va_id)
            for va_id, values in draft.assignments.items()
            for value in values
        ]
    )


@transaction.atomic
def create_custom_tag(*, actor, account, draft):
    """ "Add Virtual Account Custom Tag": the tag, its values and their virtual accounts, or nothing."""
    _require(actor, account)
    LocalAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
    check_tag(account, draft)
    tag = VirtualAccountTag.objects.create(
        account=account,
        name=draft.name,
        description=draft.description,
        required=draft.required,
        multiple_values=draft.multiple_values,
    )
    _write_values(tag, draft)
    events.record("custom_tag.created", actor=actor, account=account, tag_name=tag.name)
    return tag


@transaction.atomic
def update_custom_tag(*, actor, tag, draft):
    """ "Tag Values Management" > Save: new values, removed values, changed associations."""
    account = tag.account
    _require(actor, account)
    LocalAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
    check_tag(account, draft, tag=tag)
    tag.name, tag.description = draft.name, draft.description
    tag.required, tag.multiple_values = draft.required, draft.multiple_values
    tag.save(update_fields=["name", "description", "required", "multiple_values"])
    _write_values(tag, draft)
    events.record("custom_tag.updated", actor=actor, account=account, tag_name=tag.name)
    return tag


@transaction.atomic
def delete_custom_tag(*, actor, tag):
    _require(actor, tag.account)
    name, account = tag.name, tag.account
    tag.delete()
    events.record("custom_tag.deleted", actor=actor, account=account, tag_name=name)


def assignments_of(tag):
    """{virtual account id: [value, ...]} of a saved tag (one query)."""
    through = VirtualAccountTagValue.virtual_accounts.through
    result: dict[int, list[str]] = {}
    rows = (
        through.objects.filter(virtualaccounttagvalue__tag=tag)
        .values_list("virtualaccount_id", "virtualaccounttagvalue__value")
        .order_by("virtualaccounttagvalue__value")
    )
    for va_id, value in rows:
        result.setdefault(va_id, []).append(value)
    return result


def draft_of(tag):
    return TagDraft(
        name=tag.name,
        description=tag.description,
        required=tag.required,
        multiple_values=tag.multiple_values,
        values=[v.value for v in tag.values.all()],
        assignments=assignments_of(tag),
    )


def unassociated(account):
    """[(required tag, [virtual account names without a value of it])] — e.g. after a new local virtual
    account was created — for the Custom Tags tab's prompt. Two queries whatever the sizes."""
    through = VirtualAccountTagValue.virtual_accounts.through
    tags = list(VirtualAccountTag.objects.filter(account=account, required=True))
    if not tags:
        return []
    held = set(
        through.objects.filter(virtualaccounttagvalue__tag__in=tags).values_list(
            "virtualaccounttagvalue__tag_id", "virtualaccount_id"
        )
    )
    vas = list(account.virtual_accounts.values_list("pk", "name"))
    result = []
    for tag in tags:
        missing = [name for pk, name in vas if (tag.pk, pk) not in held]
        if missing:
            result.append((tag, missing))
    return result


__all__ = [
    "TagDraft",
    "parse_values",
    "check_values",
    "check_details",
    "check_assignments",
    "check_tag",
    "create_custom_tag",
    "update_custom_tag",
    "delete_custom_tag",
    "assignments_of",
    "draft_of",
    "unassociated",
]
