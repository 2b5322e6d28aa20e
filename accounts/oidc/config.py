"""Which external sign-in methods are on, per the Access Management widget's rules."""


def get_provider(kind):
    """The configuration row for ``kind`` ("adfs" or "sso"), created empty and off on first use."""
    from ..models import ExternalIdentityProvider

    config, _ = ExternalIdentityProvider.objects.get_or_create(kind=kind)
    return config


def active_provider(kind):
    """The configuration of ``kind`` if users may sign in with it now, else None.

    The guide: once OAuth2 ADFS is enabled all other methods are disabled; the SSO client is
    for when LDAP secondary authentication is disabled.
    """
    from ..models import ExternalIdentityProvider, LdapConfig

    rows = {row.kind: row for row in ExternalIdentityProvider.objects.filter(enabled=True)}
    if kind == "adfs":
        return rows.get("adfs")
    if kind == "sso" and "adfs" not in rows and not LdapConfig.objects.filter(pk=1, enabled=True).exists():
        return rows.get("sso")
    return None


def login_buttons():
    """The external sign-in buttons the login page shows: ``[(kind, label)]``."""
    from ..models import ExternalIdentityProvider

    return [(kind, ExternalIdentityProvider.Kind(kind).label) for kind in ("adfs", "sso") if active_provider(kind)]
