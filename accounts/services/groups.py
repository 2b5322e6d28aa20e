"""User groups of a local account (Manage Account > User Groups).

Only an Account Administrator of the account (or a System Admin / Operator) manages its groups:
the action is MANAGE_ACCOUNT_USERS on the account *and* the principal holds it account-wide
(``grantable_roles`` includes Account Administrator), as for access requests.

Uploading members (the guide): a header line ``"user_id","is_owner"``, then one row per user, a
User ID and a case-insensitive ``true``/``false``; double quotes are optional; only one owner.
The whole file is checked first and every error is returned (with its line number); if there
is any, nothing is written. A file that names an owner makes that user the group's owner.
"""

import csv
import io

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Field
from django.db.models.functions import Lower

from core import events
from core.errors import NotAllowed, ServiceError
from core.mail import Content

from ..models import UserGroup, UserGroupMembership
from ..rbac import Action, can, grantable_roles
from ..roles import AccountRole

MAX_UPLOAD_BYTES = 1024 * 1024
CSV_HEADER = ["user_id", "is_owner"]


def _max_length(field_name: str) -> int:
    field = UserGroup._meta.get_field(field_name)
    assert isinstance(field, Field) and field.max_length is not None, field_name  # both are CharFields
    return field.max_length


NAME_MAX = _max_length("name")
DESCRIPTION_MAX = _max_length("description")


def may_manage_groups(actor, account):
    """``actor`` (a user, a request or None for the system) may manage the groups of ``account``."""
    if actor is None:
        return True
    return can(actor, Action.MANAGE_ACCOUNT_USERS, account=account) and (
        AccountRole.ACCOUNT_ADMIN in grantable_roles(actor, account)
    )


def _require(actor, account):
    if not may_manage_groups(actor, account):
        raise NotAllowed("Only an Account Administrator can manage the user groups of this account.")


def _clean_name(account, name, description, *, exclude=None):
    name = (name or "").strip()
    description = (description or "").strip()
    if not name:
        raise ServiceError("Enter the User Group Name.", field="name")
    if len(name) > NAME_MAX:
        raise ServiceError(f"The name may have at most {NAME_MAX} characters.", field="name")
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(f"The description may have at most {DESCRIPTION_MAX} characters.", field="description")
    taken = UserGroup.objects.filter(account=account, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ServiceError(f"A user group named “{name}” already exists in this account.", field="name")
    return name, description


@transaction.atomic
def create_group(*, actor, account, name, description=""):
    _require(actor, account)
    name, description = _clean_name(account, name, description)
    group = UserGroup.objects.create(account=account, name=name, description=description)
    events.record("group.added", actor=actor, account=account, user_group_name=group.name)
    return group


@transaction.atomic
def update_group(*, actor, group, name, description=""):
    _require(actor, group.account)
    name, description = _clean_name(group.account, name, description, exclude=group)
    group.name, group.description = name, description
    group.save(update_fields=["name", "description"])
    events.record("group.updated", actor=actor, account=group.account, user_group_name=group.name)
    return group


@transaction.atomic
def delete_group(*, actor, group):
    """Delete the group; its memberships and the roles granted to it go with it."""
    _require(actor, group.account)
    events.record("group.removed", actor=actor, account=group.account, user_group_name=group.name)
    group.delete()


def _clear_owner(group, except_user=None):
    owners = group.memberships.filter(is_owner=True)
    if except_user is not None:
        owners = owners.exclude(user=except_user)
    owners.update(is_owner=False)


@transaction.atomic
def add_member(*, actor, group, user, is_owner=False):
    """Add ``user`` to ``group`` (as its owner if ``is_owner``, replacing the previous owner)."""
    _require(actor, group.account)
    if group.memberships.filter(user=user).exists():
        raise ServiceError(f"The user “{user.username}” is already a member of this group.", field="user")
    if is_owner:
        _clear_owner(group)
    membership = UserGroupMembership.objects.create(group=group, user=user, is_owner=bool(is_owner))
    events.record(
        "group.user_added",
        actor=actor,
        account=group.account,
        notify=[user],
        uid=user.username,
        user_group_name=group.name,
    )
    return membership


@transaction.atomic
def remove_member(*, actor, membership):
    group = membership.group
    _require(actor, group.account)
    events.record(
        "group.user_removed",
        actor=actor,
        account=group.account,
        notify=[membership.user],
        uid=membership.user.username,
        user_group_name=group.name,
    )
    membership.delete()


@transaction.atomic
def set_owner(*, actor, membership):
    """Make the member of ``membership`` the group's only owner."""
    group = membership.group
    _require(actor, group.account)
    _clear_owner(group, except_user=membership.user)
    if not membership.is_owner:
        membership.is_owner = True
        membership.save(update_fields=["is_owner"])
    events.record("group.updated", actor=actor, account=group.account, user_group_name=group.name)
    return membership


# --- Send Message to User Group ---------------------------------------------------------------

MESSAGE_SUBJECT_MAX = 200
MESSAGE_BODY_MAX = 10_000


def message_recipients(group):
    """The members a group message reaches: enabled users with an email address."""
    return (
        get_user_model()
        .objects.filter(group_memberships__group=group, is_active=True)
        .exclude(email="")
        .order_by("username")
    )


@transaction.atomic
def send_message(*, actor, group, subject, message):
    """The guide's "Send Message to User Group": mail ``message`` to every member with an email
    address (A.5 "User Group Send Message"), one mail each so members do not see each other's
    addresses; returns how many members it goes to."""
    _require(actor, group.account)
    subject = " ".join((subject or "").split())
    message = (message or "").strip()
    if not subject:
        raise ServiceError("Enter a subject.", field="subject")
    if len(subject) > MESSAGE_SUBJECT_MAX:
        raise ServiceError(f"The subject may have at most {MESSAGE_SUBJECT_MAX} characters.", field="subject")
    if not message:
        raise ServiceError("Enter a message.", field="message")
    if len(message) > MESSAGE_BODY_MAX:
        raise ServiceError(f"The message may have at most {MESSAGE_BODY_MAX} characters.", field="message")
    members = list(message_recipients(group))
    if not members:
        raise ServiceError(f"No enabled member of the user group “{group.name}” has an email address.")
    sender = getattr(actor, "username", "") or "system"
    body = (
        f"{message}\n\n-- \nSent by “{sender}” to the members of the user group “{group.name}” "
        f"of the local account “{group.account.name}”."
    )
    events.record(
        "group.message_sent",
        actor=actor,
        account=group.account,
        notify=members,
        mail=Content(body=body, subject_detail=subject),
        subject=subject,
        count=len(members),
        user_group_name=group.name,
        user_name=sender,
    )
    return len(members)


# --- Upload / download ------------------------------------------------------------------------


def _decode(file_content):
    """The text of an uploaded file, or a ServiceError if it is too big or not text."""
    if isinstance(file_content, str):
        raw_size = len(file_content.encode("utf-8"))
        text = file_content
    else:
        raw_size = len(file_content)
        if raw_size > MAX_UPLOAD_BYTES:
            raise ServiceError("The file is larger than 1 MB.")
        try:
            text = bytes(file_content).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ServiceError("The file is not a CSV text file (it is not UTF-8 text).") from None
    if raw_size > MAX_UPLOAD_BYTES:
        raise ServiceError("The file is larger than 1 MB.")
    if "\x00" in text:
        raise ServiceError("The file is not a CSV text file (it contains binary data).")
    return text.lstrip("\ufeff")


def parse_members_csv(file_content):
    """(rows, errors): rows are ``(line, user_id, is_owner)``; errors are messages for the user."""
    try:
        text = _decode(file_content)
    except ServiceError as error:
        return [], [error.message]
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    rows, errors, header_seen = [], [], False
    try:
        for cells in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if not header_seen:
                header_seen = True
                if [cell.lower() for cell in cells] != CSV_HEADER:
                    errors.append(f'Line {line}: the header must be "user_id","is_owner".')
                continue
            if len(cells) != 2:
                errors.append(f"Line {line}: expected a user id and true or false, found {len(cells)} values.")
                continue
            user_id, owner = cells
            if not user_id:
                errors.append(f"Line {line}: the user id is empty.")
                continue
            if owner.lower() not in ("true", "false"):
                errors.append(f"Line {line}: “{owner}” is not true or false.")
                continue
            rows.append((line, user_id, owner.lower() == "true"))
    except csv.Error as error:
        errors.append(f"Line {reader.line_num}: {error}.")
    if not header_seen:
        errors.append('The file is empty; it needs the header "user_id","is_owner".')
    return rows, errors


def import_members_csv(*, actor, group, file_content):
    """Add the users of an uploaded CSV to ``group``: all of them, or, if the file has any error,
    none; returns the list of errors (empty when the members were added)."""
    _require(actor, group.account)
    rows, errors = parse_members_csv(file_content)
    wanted = {user_id.lower() for _line, user_id, _owner in rows}
    users = {
        user.username_lower: user
        for user in get_user_model()
        .objects.annotate(username_lower=Lower("username"))
        .filter(username_lower__in=wanted)
    }
    seen: dict[str, int] = {}  # the lower-cased User ID: the line it was first listed on
    owners: list[int] = []
    for line, user_id, is_owner in rows:
        key = user_id.lower()
        if key not in users:
            errors.append(f"Line {line}: no user with the User ID “{user_id}” exists.")
        elif key in seen:
            errors.append(f"Line {line}: the user “{user_id}” is already listed on line {seen[key]}.")
        else:
            seen[key] = line
        if is_owner:
            owners.append(line)
    if len(owners) > 1:
        errors.append(
            "Only one user can be set to be the owner of a group; owners are set on lines "
            + ", ".join(str(line) for line in owners)
            + "."
        )
    if errors:
        return errors
    _write_members(actor, group, [(users[user_id.lower()], is_owner) for _line, user_id, is_owner in rows])
    return []


@transaction.atomic
def _write_members(actor, group, members):
    existing = {m.user_id: m for m in group.memberships.select_for_update()}
    owner = next((user for user, is_owner in members if is_owner), None)
    if owner is not None:
        _clear_owner(group, except_user=owner)
    for user, is_owner in members:
        membership = existing.get(user.pk)
        if membership is None:
            UserGroupMembership.objects.create(group=group, user=user, is_owner=is_owner)
            events.record(
                "group.user_added",
                actor=actor,
                account=group.account,
                notify=[user],
                uid=user.username,
                user_group_name=group.name,
            )
        elif is_owner and not membership.is_owner:
            membership.is_owner = True
            membership.save(update_fields=["is_owner"])


def export_members_rows(group):
    """The rows of the group's download, in the upload format (a file that uploads again)."""
    memberships = group.memberships.select_related("user").order_by("user__username")
    for membership in memberships.iterator():
        yield (membership.user.username, "true" if membership.is_owner else "false")


export_members_csv = export_members_rows
