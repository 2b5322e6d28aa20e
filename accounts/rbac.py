"""The one policy module: "may this principal do this action on this account / virtual account?"

It implements the tables of ``docs/rbac.md``. Every view, API permission and command asks
``can(...)`` (or filters with ``visible_accounts`` / ``visible_virtual_accounts``); nothing
else decides access. A principal is a user (local, LDAP, ADFS) — with the grants of the user
groups it belongs to — or an OAuth client-credentials grant (``ApiGrantPrincipal``).
"""

from enum import StrEnum

from django.db.models import Q

from .roles import AccountRole, SystemRole


class Action(StrEnum):
    # Administration workspace
    OPEN_ADMIN_WORKSPACE = "open_admin_workspace"
    MANAGE_USERS = "manage_users"
    CHANGE_SYSTEM_ROLE = "change_system_role"
    MANAGE_SYSTEM_ADMINS = "manage_system_admins"  # disable, enable, remove, reset, unlock a System Admin
    VIEW_SYSTEM_CONFIG = "view_system_config"
    CHANGE_SYSTEM_CONFIG = "change_system_config"
    MANAGE_ACCOUNTS = "manage_accounts"
    MANAGE_SYNC = "manage_sync"
    TOGGLE_API_CONSOLE = "toggle_api_console"
    MANAGE_API_GRANTS = "manage_api_grants"
    VIEW_LOGS = "view_logs"
    VIEW_HEALTH = "view_health"
    REQUEST_ACCOUNT = "request_account"  # also "request access": any signed-in user
    MANAGE_LICENSE_LINES = "manage_license_lines"  # Accounts > License Transactions: Add License / Remove Licenses
    # Licensing workspace and API, per local account
    VIEW_ACCOUNT = "view_account"
    MANAGE_VIRTUAL_ACCOUNTS = "manage_virtual_accounts"
    MANAGE_ACCOUNT_USERS = "manage_account_users"
    MANAGE_CUSTOM_TAGS = "manage_custom_tags"
    MANAGE_TOKENS = "manage_tokens"
    CREATE_EXPORT_TOKENS = "create_export_tokens"
    MANAGE_LICENSE_TAGS = "manage_license_tags"
    SET_PREFERENCES = "set_preferences"
    TRANSFER = "transfer"
    REMOVE_PRODUCT_INSTANCES = "remove_product_instances"
    MANAGE_DLC_SETTINGS = "manage_dlc_settings"
    ACCEPT_AGREEMENT = "accept_agreement"
    SYNC_USAGE = "sync_usage"  # SL Using Policy: "Synchronize usage information with CSSM"
    RESERVE_LICENSES = "reserve_licenses"  # Reserve Licenses on a product instance, update, return


_ADMINS = frozenset({SystemRole.ADMIN, SystemRole.OPERATOR})
_EVERYONE = frozenset(SystemRole)

SYSTEM_MATRIX = {
    Action.OPEN_ADMIN_WORKSPACE: _ADMINS,
    Action.MANAGE_USERS: _ADMINS,
    Action.CHANGE_SYSTEM_ROLE: frozenset({SystemRole.ADMIN}),
    # Our decision: a System Operator may not act on a System Admin at all, or an Operator could
    # disable every System Admin and keep the installation to themselves.
    Action.MANAGE_SYSTEM_ADMINS: frozenset({SystemRole.ADMIN}),
    Action.VIEW_SYSTEM_CONFIG: _ADMINS,
    Action.CHANGE_SYSTEM_CONFIG: frozenset({SystemRole.ADMIN}),
    Action.MANAGE_ACCOUNTS: _ADMINS,
    Action.MANAGE_SYNC: _ADMINS,
    Action.TOGGLE_API_CONSOLE: frozenset({SystemRole.ADMIN}),
    Action.MANAGE_API_GRANTS: _ADMINS,
    Action.VIEW_LOGS: _ADMINS,
    Action.VIEW_HEALTH: _ADMINS,
    Action.REQUEST_ACCOUNT: _EVERYONE,
    # Our decision (docs/rbac.md): the guide gives Add License / Remove Licenses to "the Cisco
    # Administrator"; licenses made out of nothing are the System Admin's alone (an Operator sees
    # the tab).
    Action.MANAGE_LICENSE_LINES: frozenset({SystemRole.ADMIN}),
}

# How far an account role reaches for an action:
ALL = "all"  # every virtual account of the account
OWN = "own"  # only the virtual account(s) the role is held on
BOTH = "both"  # a role on the source and on the destination virtual account

_AA, _AU = AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER
_VAA, _VAU = AccountRole.VA_ADMIN, AccountRole.VA_USER
_EVERY_ROLE_OWN = {_AA: ALL, _AU: ALL, _VAA: OWN, _VAU: OWN}

ACCOUNT_MATRIX = {
    Action.VIEW_ACCOUNT: _EVERY_ROLE_OWN,
    Action.MANAGE_VIRTUAL_ACCOUNTS: {_AA: ALL},
    Action.MANAGE_ACCOUNT_USERS: {_AA: ALL, _VAA: OWN},
    Action.MANAGE_CUSTOM_TAGS: {_AA: ALL},
    Action.MANAGE_TOKENS: _EVERY_ROLE_OWN,
    Action.CREATE_EXPORT_TOKENS: _EVERY_ROLE_OWN,
    Action.MANAGE_LICENSE_TAGS: _EVERY_ROLE_OWN,
    Action.SET_PREFERENCES: _EVERY_ROLE_OWN,
    Action.TRANSFER: {_AA: ALL, _AU: ALL, _VAA: BOTH, _VAU: BOTH},
    # Our decision (docs/rbac.md): a VA User may not remove product instances.
    Action.REMOVE_PRODUCT_INSTANCES: {_AA: ALL, _AU: ALL, _VAA: OWN},
    Action.MANAGE_DLC_SETTINGS: {_AA: ALL},
    Action.ACCEPT_AGREEMENT: {_AA: ALL},
    # Our decision (docs/rbac.md): asking that the reports go in the next synchronization sends
    # nothing the synchronization would not send anyway; whoever sees the VA may ask.
    Action.SYNC_USAGE: _EVERY_ROLE_OWN,
    # Our decision (docs/rbac.md): reserving sets licenses of the VA aside for one of its product
    # instances, as its usage does; whoever may transfer the VA's licenses may reserve them.
    Action.RESERVE_LICENSES: _EVERY_ROLE_OWN,
}


class Principal:
    """Who is asking, with their role grants loaded once per local account."""

    def __init__(self, user):
        self.user = user
        self._grants = {}

    @property
    def system_role(self):
        user = self.user
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return user.system_role

    @property
    def is_system_wide_admin(self):
        """System Admins and Operators act as Account Administrator on every local account."""
        return self.system_role in _ADMINS

    def grant_filter(self):
        """The grants this principal holds, directly or through its user groups."""
        return Q(user=self.user) | Q(group__memberships__user=self.user)

    def role_rows(self, account):
        """``(virtual_account_id, role)`` pairs this principal holds on ``account`` (one query)."""
        from .models import RoleGrant

        return RoleGrant.objects.filter(self.grant_filter(), account=account).values_list("virtual_account_id", "role")

    def granted_account_ids(self):
        """A subquery of the ids of the local accounts this principal holds any role on."""
        from .models import RoleGrant

        return RoleGrant.objects.filter(self.grant_filter()).values("account_id")

    def grants(self, account):
        """``(account_wide_roles, {virtual_account_id: roles})`` on one local account."""
        if account.pk not in self._grants:
            account_roles, va_roles = set(), {}
            for va_id, role in self.role_rows(account):
                if va_id is None:
                    account_roles.add(role)
                else:
                    va_roles.setdefault(va_id, set()).add(role)
            self._grants[account.pk] = (account_roles, va_roles)
        return self._grants[account.pk]


class ApiGrantPrincipal(Principal):
    """An OAuth client-credentials grant (guide "Setting API Access Control").

    Its system role is System User, never a system-wide admin; its account roles are the
    grant's API access-control entries. A Resource Owner (password) grant is not this: those
    calls act as the user, with the user's own Principal.
    """

    def __init__(self, api_grant):
        super().__init__(None)
        self.api_grant = api_grant

    @property
    def system_role(self):
        return None if self.api_grant.is_expired() else SystemRole.USER

    @property
    def is_system_wide_admin(self):
        return False

    def grant_filter(self):
        # No user or group holds this principal's roles: RoleGrant rows never apply to it.
        return Q(pk__in=[])

    def role_rows(self, account):
        return self.api_grant.access_entries.filter(account=account).values_list("virtual_account_id", "role")

    def granted_account_ids(self):
        return self.api_grant.access_entries.values("account_id")


def principal_for(obj):
    """A Principal for a user or a request (cached on the request for its lifetime).

    A user object that carries its own ``principal`` (the REST API's ``ApiCaller``) is asked
    for it, so API views call ``can(request, ...)`` like the workspace views do.
    """
    if isinstance(obj, Principal):
        return obj
    if hasattr(obj, "user") and hasattr(obj, "META"):
        if not hasattr(obj, "_onprem_principal"):
            obj._onprem_principal = _carried_principal(obj.user) or Principal(obj.user)
        return obj._onprem_principal
    return _carried_principal(obj) or Principal(obj)


def _carried_principal(user):
    principal = getattr(user, "principal", None)
    return principal if isinstance(principal, Principal) else None


def can(who, action, account=None, virtual_account=None, to_virtual_account=None):
    """May ``who`` (a user, request or Principal) do ``action``?

    System actions ignore the account arguments. Account actions need ``account`` (or a
    ``virtual_account``, whose account is used); naming a ``virtual_account`` asks about that
    one, naming none asks "anywhere in this account". A local account that is not Active is
    closed to everyone in the Licensing workspace.
    """
    principal = principal_for(who)
    system_role = principal.system_role
    if system_role is None:
        return False
    action = Action(action)
    if action in SYSTEM_MATRIX:
        return system_role in SYSTEM_MATRIX[action]

    if account is None and virtual_account is not None:
        account = virtual_account.account
    if account is None:
        raise ValueError(f"{action} is decided per local account; pass account or virtual_account")
    for va in (virtual_account, to_virtual_account):
        if va is not None and va.account_id != account.pk:
            return False  # nothing crosses local account boundaries
    if not account.is_active:
        return False
    if principal.is_system_wide_admin:
        return True

    reach = ACCOUNT_MATRIX[action]
    account_roles, va_roles = principal.grants(account)
    if any(reach.get(role) == ALL for role in account_roles):
        return True

    def holds_reaching_role(va):
        roles = va_roles.get(va.pk, ())
        return any(reach.get(role) in (OWN, BOTH) for role in roles)

    if virtual_account is None:
        return any(reach.get(role) in (OWN, BOTH) for roles in va_roles.values() for role in roles)
    if not holds_reaching_role(virtual_account):
        return False
    if to_virtual_account is not None and any(reach.get(role) == BOTH for role in va_roles[virtual_account.pk]):
        return holds_reaching_role(to_virtual_account)
    return True


def token_delegates(token, action, *, virtual_account, to_virtual_account=None):
    """May a device that presents registration ``token`` do ``action`` beyond registering into the
    token's own virtual account? Only what the token's creator may do, as of now.

    A token is a delegation of its creator's rights, bounded by them (the RBAC table, "Devices"):
    the device channel asks this where a REGISTER would touch a product instance of another
    virtual account (``Action.TRANSFER`` from its virtual account to the token's). A token with
    no recorded creator — made by the system or by an API client, or whose creator was deleted —
    delegates nothing more; nor does one whose creator was disabled or lost the role.
    """
    if token.created_by_id is None:
        return False
    return can(
        token.created_by,
        action,
        account=virtual_account.account,
        virtual_account=virtual_account,
        to_virtual_account=to_virtual_account,
    )


def may_manage_user(who, user):
    """May ``who`` disable, enable, remove, unlock or reset the password of ``user``?

    The Users widget's actions on another user; a System Admin is acted on by System Admins only.
    """
    if not can(who, Action.MANAGE_USERS):
        return False
    return user.system_role != SystemRole.ADMIN or can(who, Action.MANAGE_SYSTEM_ADMINS)


def visible_virtual_accounts(who, account):
    """The local virtual accounts of ``account`` this principal may see."""
    principal = principal_for(who)
    vas = account.virtual_accounts.all()
    if not can(principal, Action.VIEW_ACCOUNT, account=account):
        return vas.none()
    if principal.is_system_wide_admin:
        return vas
    account_roles, va_roles = principal.grants(account)
    if account_roles:
        return vas
    return vas.filter(pk__in=list(va_roles))


def grantable_roles(who, account, virtual_account=None):
    """The account roles ``who`` may hand out on ``account`` (or on one of its VAs)."""
    if virtual_account is None:
        if can(who, Action.MANAGE_ACCOUNT_USERS, account=account) and _holds_account_admin(who, account):
            return [AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER, AccountRole.VA_ADMIN, AccountRole.VA_USER]
        return []
    # Pass the account too: a virtual account of another local account then gets no roles (can()
    # refuses crossings), and can() need not load virtual_account.account (a query per call).
    if can(who, Action.MANAGE_ACCOUNT_USERS, account=account, virtual_account=virtual_account):
        return [AccountRole.VA_ADMIN, AccountRole.VA_USER]
    return []


def can_on_whole_account(who, action, account):
    """May ``who`` do ``action`` on every virtual account of ``account``? A System Admin or
    Operator, or an account-wide role whose reach for the action is the whole account; a role held
    only on some virtual accounts never is, whatever those are."""
    principal = principal_for(who)
    if not can(principal, action, account=account):
        return False
    if principal.is_system_wide_admin:
        return True
    account_roles, _va_roles = principal.grants(account)
    reach = ACCOUNT_MATRIX[Action(action)]
    return any(reach.get(role) == ALL for role in account_roles)


def _holds_account_admin(who, account):
    principal = principal_for(who)
    if principal.is_system_wide_admin:
        return True
    account_roles, _ = principal.grants(account)
    return AccountRole.ACCOUNT_ADMIN in account_roles
