"""Talking to the configured LDAP server: connection settings, "Test connection", group import
("Update LDAP Data") and keeping the LDAP groups' user groups in step with the directory.

The stored ``LdapConfig`` row is read each time, so a saved change applies to the next login
or import without a restart. "simple-tls" is LDAP over TLS from the first byte (``ldaps://``,
the meaning of ``simple_tls`` in the LDAP clients the original product is built on); "plain"
is unencrypted LDAP. Server certificates are checked against the system's trusted CAs.
"""

import ipaddress
import re

import ldap
import ldap.dn
from django.db import transaction
from django.utils import timezone

from core import events
from core.errors import ServiceError

MAX_GROUPS = 1000  # the guide: "You can only add up to 1000 LDAP Groups for each SSM On-Prem."
NETWORK_TIMEOUT = 5
OPERATION_TIMEOUT = 15

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,99}$")

# Per LDAP type: which entries are groups, and which attribute lists their members.
GROUP_SCHEMES = {
    "openldap": {"filter": "(objectClass=posixGroup)", "member_attr": "memberUid"},
    "ad": {"filter": "(objectClass=group)", "member_attr": "member"},
}


def get_config():
    """The LDAP configuration row (created empty and disabled on first use)."""
    from .models import LdapConfig

    config, _ = LdapConfig.objects.get_or_create(pk=1)
    return config


def active_config():
    """The LDAP configuration if LDAP authentication is on, else None.

    Enabling OAuth2 ADFS turns the other methods off (the guide: "all other tabs ... are
    disabled"), so an enabled ADFS wins over an enabled LDAP record.
    """
    from .models import ExternalIdentityProvider, LdapConfig

    config = LdapConfig.objects.filter(pk=1, enabled=True).first()
    if config is None:
        return None
    if ExternalIdentityProvider.objects.filter(kind=ExternalIdentityProvider.Kind.ADFS, enabled=True).exists():
        return None
    return config


# --- Checking what an administrator typed ---------------------------------------------------


def check_host(host):
    host = (host or "").strip()
    if not host:
        raise ServiceError("Enter the LDAP IP Address or FQDN.", field="host")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOSTNAME.match(host):
            raise ServiceError(
                f"“{host}” is not an IP address or a fully qualified domain name.", field="host"
            ) from None
    return host


def check_dn(value, field, label, *, required):
    value = (value or "").strip()
    if not value:
        if required:
            raise ServiceError(f"Enter the {label}.", field=field)
        return ""
    try:
        ldap.dn.str2dn(value)
    except ldap.DECODING_ERROR:
        raise ServiceError(
            f"“{value}” is not a valid DN (attribute=value pairs separated by commas).", field=field
        ) from None
    return value


def check_attribute(value):
    value = (value or "").strip()
    if not _ATTRIBUTE.match(value):
        raise ServiceError("Enter the UID attribute name, for example uid or sAMAccountName.", field="uid_attribute")
    return value


# --- Connections ----------------------------------------------------------------------------


def server_uri(config):
    scheme = "ldaps" if config.encryption == "simple-tls" else "ldap"
    host = config.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"{scheme}://{host}:{config.port}"


def connection_options(config):
    options = {
        ldap.OPT_NETWORK_TIMEOUT: NETWORK_TIMEOUT,
        ldap.OPT_TIMEOUT: OPERATION_TIMEOUT,
        # Active Directory answers searches at the domain root with referrals the client cannot
        # follow with our bind; not chasing them is what every AD integration does.
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_PROTOCOL_VERSION: 3,
    }
    if config.encryption == "simple-tls":
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        if config.ca_certificate:
            options[ldap.OPT_X_TLS_CACERTFILE] = ca_file(config.ca_certificate)
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # must come last: applies the TLS options above
    return options


def check_ca_certificate(pem):
    """The PEM text if it holds one or more X.509 certificates (64 KB at most); ServiceError else."""
    from cryptography import x509

    pem = (pem or "").strip()
    if not pem:
        return ""
    if len(pem) > 65536:
        raise ServiceError("The CA certificate is larger than 64 KB.", field="ca_certificate")
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ServiceError("The CA certificate is not a PEM X.509 certificate.", field="ca_certificate") from None
    return pem + "\n"


def ca_file(pem):
    """A file holding ``pem`` (OpenLDAP's TLS reads CAs from a file), named by its hash."""
    import hashlib
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.DATA_DIR) / "ldap-ca"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / (hashlib.sha256(pem.encode()).hexdigest() + ".pem")
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        temporary.write_text(pem)
        temporary.replace(path)  # atomic: a concurrent login never reads half a file
    return str(path)


def connect(config):
    """A bound connection (with the Bind DN, or anonymous if none is set)."""
    connection = ldap.initialize(server_uri(config), bytes_mode=False)
    for option, value in connection_options(config).items():
        connection.set_option(option, value)
    connection.simple_bind_s(config.bind_dn or "", config.bind_password or "")
    return connection


def describe_error(error):
    """A short, secret-free text for an LDAP error."""
    if isinstance(error, ldap.INVALID_CREDENTIALS):
        return "the Bind DN or its password was refused"
    if isinstance(error, ldap.SERVER_DOWN):
        return "the server cannot be reached"
    if isinstance(error, ldap.NO_SUCH_OBJECT):
        return "the base DN does not exist on the server"
    if isinstance(error, ldap.TIMEOUT):
        return "the server did not answer in time"
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return info.get("desc") or type(error).__name__


def try_connection(config):
    """Bind and look up the User Base DN; a ServiceError says what went wrong."""
    try:
        connection = connect(config)
        try:
            connection.search_s(config.user_base_dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
        finally:
            connection.unbind_s()
    except ldap.LDAPError as error:
        raise ServiceError(f"The connection to {server_uri(config)} failed: {describe_error(error)}.") from None
    return f"Connected to {server_uri(config)} and found the User Base DN."


# --- Update LDAP Data: import the groups ----------------------------------------------------


def _text(values):
    return values[0].decode("utf-8", "replace") if values else ""


def fetch_groups(config):
    """``[(dn, name, description, member_uids)]`` of the groups under the Group Base DN."""
    if not config.group_base_dn:
        raise ServiceError("Set the Group Base DN and the LDAP Type (LDAP Group Import Settings) first.")
    scheme = GROUP_SCHEMES[config.ldap_type]
    member_attr = scheme["member_attr"]
    try:
        connection = connect(config)
        try:
            # One more than allowed tells us whether the server has too many.
            results = connection.search_ext_s(
                config.group_base_dn,
                ldap.SCOPE_SUBTREE,
                scheme["filter"],
                ["cn", "description", member_attr],
                sizelimit=MAX_GROUPS + 1,
            )
        except ldap.SIZELIMIT_EXCEEDED:
            raise ServiceError(
                f"The LDAP server has more than {MAX_GROUPS} groups under the Group Base DN; "
                "choose a narrower Group Base DN."
            ) from None
        try:
            groups = []
            for dn, attrs in results:
                if dn is None:
                    continue  # a search continuation reference
                members = [value.decode("utf-8", "replace") for value in attrs.get(member_attr, [])]
                if config.ldap_type == "ad":
                    members = _uids_of(connection, config, members)
                groups.append(
                    (
                        dn,
                        _text(attrs.get("cn")) or dn,
                        _text(attrs.get("description"))[:255],
                        sorted({member.lower() for member in members}),
                    )
                )
        finally:
            connection.unbind_s()
    except ldap.LDAPError as error:
        raise ServiceError(f"Reading the groups from {server_uri(config)} failed: {describe_error(error)}.") from None
    if len(groups) > MAX_GROUPS:
        raise ServiceError(
            f"The LDAP server has more than {MAX_GROUPS} groups under the Group Base DN; "
            "choose a narrower Group Base DN."
        )
    return groups


def _uids_of(connection, config, member_dns):
    """Active Directory lists members by DN; read each member's UID attribute."""
    uids = []
    for member_dn in member_dns:
        try:
            rows = connection.search_s(member_dn, ldap.SCOPE_BASE, "(objectClass=*)", [config.uid_attribute])
        except ldap.NO_SUCH_OBJECT:
            continue
        for _dn, attrs in rows:
            uid = _text(attrs.get(config.uid_attribute))
            if uid:
                uids.append(uid)
    return uids


@transaction.atomic
def import_groups(*, actor, config=None):
    """Replace the imported LDAP groups with the server's; keep roles of groups that remain.

    A group gone from the server loses its user groups (and with them the roles it gave).
    Members of the LDAP groups who already logged in once are put in step right away.
    """
    from .models import LdapGroup

    config = config or get_config()
    fetched = fetch_groups(config)
    now = timezone.now()
    existing = {group.dn.lower(): group for group in LdapGroup.objects.select_for_update()}
    seen = set()
    for dn, name, description, members in fetched:
        group = existing.get(dn.lower())
        seen.add(dn.lower())
        if group is None:
            LdapGroup.objects.create(
                dn=dn, name=name[:255], description=description, member_uids=members, imported_at=now
            )
        else:
            group.dn, group.name, group.description, group.member_uids, group.imported_at = (
                dn,
                name[:255],
                description,
                members,
                now,
            )
            group.save(update_fields=["dn", "name", "description", "member_uids", "imported_at"])
    for key, group in existing.items():
        if key not in seen:
            for link in group.links.select_related("user_group"):
                link.user_group.delete()
            group.delete()
    sync_all_memberships()
    events.record("access.ldap_groups_imported", actor=actor, count=len(fetched))
    return len(fetched)


# --- Keeping user groups equal to the LDAP groups -------------------------------------------


def _sync_user(user, ldap_group_ids):
    """Make ``user`` a member of exactly the linked user groups of ``ldap_group_ids``."""
    from .models import LdapGroupLink, UserGroupMembership

    wanted = set(LdapGroupLink.objects.filter(ldap_group_id__in=ldap_group_ids).values_list("user_group_id", flat=True))
    current = set(
        UserGroupMembership.objects.filter(user=user, group__ldap_link__isnull=False).values_list("group_id", flat=True)
    )
    UserGroupMembership.objects.filter(user=user, group_id__in=current - wanted).delete()
    UserGroupMembership.objects.bulk_create(
        [UserGroupMembership(group_id=group_id, user=user) for group_id in wanted - current]
    )


@transaction.atomic
def sync_login_memberships(user, group_dns):
    """At an LDAP login: the user's groups as the server just reported them (DNs)."""
    from .models import LdapGroup

    wanted_dns = {dn.lower() for dn in group_dns}
    # Also remember the membership on the group row, so the LDAP Groups tab shows it.
    ids = []
    for group in LdapGroup.objects.select_for_update():
        uid = user.username.lower()
        member = group.dn.lower() in wanted_dns
        if member:
            ids.append(group.pk)
        if member != (uid in group.member_uids):
            group.member_uids = sorted(set(group.member_uids) ^ {uid})
            group.save(update_fields=["member_uids"])
    _sync_user(user, ids)


def sync_all_memberships():
    """After an import or a role change: every LDAP user's memberships from the stored groups."""
    from django.contrib.auth import get_user_model

    from .models import LdapGroup

    User = get_user_model()
    by_uid = {}
    for group_id, uids in LdapGroup.objects.values_list("pk", "member_uids"):
        for uid in uids:
            by_uid.setdefault(uid, []).append(group_id)
    for user in User.objects.filter(source=User.Source.LDAP):
        _sync_user(user, by_uid.get(user.username.lower(), []))


def user_search_filter(config):
    return f"({config.uid_attribute}=%(user)s)"


__all__ = [
    "MAX_GROUPS",
    "active_config",
    "check_attribute",
    "check_dn",
    "check_host",
    "connect",
    "fetch_groups",
    "get_config",
    "import_groups",
    "server_uri",
    "sync_all_memberships",
    "sync_login_memberships",
    "try_connection",
]
