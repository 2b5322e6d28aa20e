"""The Settings widget's services: read the system settings (cached) and change them tab by tab.

Every page reads the settings (banner, time zone), so ``current()`` serves them from Django's
cache and only the first request after a change (or after CACHE_SECONDS) reads the row; when the
cache server is down they come from the database. The cached copy never holds a
clear secret: the SMTP password column stores an ``core.crypto`` token, decrypted only by
the mail backend at the moment it connects.
"""

import ipaddress
import logging
import re
import zoneinfo

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from . import crypto
from .errors import ServiceError
from .events import record

logger = logging.getLogger(__name__)
# How long a cached copy may live: bounds the staleness left by an invalidation the cache missed.
CACHE_SECONDS = 300


def _cache_key():
    # Named after the database: two servers sharing one Redis (a test run and a live server it
    # started, say) must not read each other's settings.
    return f"onprem:system-settings:v1:{settings.DATABASES['default']['NAME']}"


# The tabs of the Settings widget and the fields each one saves (the guide's order).
TAB_FIELDS = {
    "messaging": ["banner_text", "banner_on_login", "banner_text_color", "banner_background_color", "login_message"],
    "syslog": ["syslog_enabled", "syslog_host", "syslog_port"],
    "language": ["default_language"],
    "email": [
        "smtp_host",
        "smtp_port",
        "smtp_helo_domain",
        "smtp_from",
        "smtp_auth_required",
        "smtp_username",
        "smtp_starttls",
    ],
    "time": ["time_zone"],
    "motd": ["message_of_the_day", "before_login_message"],
    # Network widget
    "network": ["onprem_name"],
    "proxy": ["proxy_enabled", "proxy_host", "proxy_port", "proxy_username"],
}
TAB_EVENTS = {
    "messaging": "settings.messaging_changed",
    "syslog": "settings.syslog_changed",
    "language": "settings.language_changed",
    "email": "settings.email_changed",
    "time": "settings.time_changed",
    "motd": "settings.motd_changed",
    "network": "network.general_changed",
    "proxy": "network.proxy_changed",
}


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$|^[0-9A-Fa-f:.]+$"
)


def proxy_url():
    """The proxy URL for requests to CSSM (``https`` and ``http`` keys), or None when off."""
    from urllib.parse import quote

    config = current()
    if not (config.proxy_enabled and config.proxy_host):
        return None
    host = config.proxy_host
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    credentials = ""
    if config.proxy_username:
        password = crypto.decrypt(config.proxy_password) if config.proxy_password else ""
        credentials = f"{quote(config.proxy_username, safe='')}:{quote(password, safe='')}@"
    url = f"http://{credentials}{host}:{config.proxy_port}"
    return {"https": url, "http": url}


def _cache_call(operation, *args, **kwargs):
    """``cache.<operation>(...)``, or None when the cache server is down (Redis stopped): the
    settings then come from the database, so pages and device endpoints keep answering."""
    try:
        return getattr(cache, operation)(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - redis.ConnectionError, OSError, ...: any cache failure
        logger.warning(
            "The cache is unavailable (%s); reading the system settings from the database.", type(error).__name__
        )
        return None


def current():
    """The system settings (a saved or default, unsaved row), from the cache when possible."""
    from .models import SystemSettings

    key = _cache_key()
    row = _cache_call("get", key)
    if row is None:
        row = SystemSettings.objects.filter(pk=1).first() or SystemSettings(pk=1)
        _cache_call("set", key, row, timeout=CACHE_SECONDS)
    return row


def cached():
    """``current()`` from this process's copy (``core.process_settings``): no cache-server round
    trip while no setting changed. For the device path (the syslog fan-out of its events)."""
    from . import process_settings

    return process_settings.read("system-settings", current)


def forget_cached():
    # A delete that fails (cache unreachable during a change) cannot leave a stale copy for long:
    # cached rows expire after CACHE_SECONDS.
    from . import process_settings

    _cache_call("delete", _cache_key())
    process_settings.bump()


def prime_cache(row):
    """Put ``row`` in the cache as the current settings (tests start from the defaults)."""
    from . import process_settings

    cache.set(_cache_key(), row, timeout=None)
    process_settings.bump()


def time_zones():
    """Every IANA time zone name the server knows, UTC first."""
    return ["UTC"] + sorted(name for name in zoneinfo.available_timezones() if name != "UTC")


def update(tab, *, actor, smtp_password=None, clear_smtp_password=False, proxy_password=None, **values):
    """Save one tab's fields; checks them all first so a refused change writes nothing.

    ``smtp_password`` (Email tab) and ``proxy_password`` (Proxy tab) replace the stored
    password only when given; the forms leave them empty to keep the current one, as the
    pages never show them back.
    """
    from .models import SystemSettings

    if tab not in TAB_FIELDS:
        raise ServiceError(f"Unknown settings tab “{tab}”.")
    unknown = set(values) - set(TAB_FIELDS[tab])
    if unknown:
        raise ServiceError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    _check(tab, values, smtp_password)
    if proxy_password is not None and len(proxy_password) > 512:
        raise ServiceError("The password is too long.", field="proxy_password")

    with transaction.atomic():
        row, _ = SystemSettings.objects.select_for_update().get_or_create(pk=1)
        for name, value in values.items():
            setattr(row, name, value)
        if tab == "email":
            if smtp_password:
                row.smtp_password = crypto.encrypt(smtp_password)
            elif clear_smtp_password or not row.smtp_auth_required:
                row.smtp_password = ""
            if row.smtp_auth_required and not (row.smtp_username and row.smtp_password):
                raise ServiceError("Authentication Required needs a username and a password.", field="smtp_password")
        if tab == "proxy":
            if proxy_password:
                row.proxy_password = crypto.encrypt(proxy_password)
            elif not row.proxy_username:
                row.proxy_password = ""
        try:
            row.full_clean()
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise ServiceError(messages[0], field=field) from error
        row.save()
        record(TAB_EVENTS[tab], actor=actor, user_name=getattr(actor, "username", "system"))
        # Now (this transaction reads its own row) and after commit (another process may have
        # cached the old row meanwhile).
        forget_cached()
        transaction.on_commit(forget_cached)
    return row


def _check(tab, values, smtp_password):
    if tab == "proxy" and values.get("proxy_enabled") and not values.get("proxy_host", "").strip():
        raise ServiceError("Enter the Proxy IP Address.", field="proxy_host")
    if tab == "network":
        name = values.get("onprem_name", "").strip()
        if name and not _HOSTNAME.match(name):
            raise ServiceError("Enter a DNS resolvable hostname or an IP address.", field="onprem_name")
    if tab == "syslog" and values.get("syslog_enabled"):
        if not values.get("syslog_host", "").strip():
            raise ServiceError("Enter the Syslog Server Address.", field="syslog_host")
    if {"syslog_port", "smtp_port", "proxy_port"} & set(values):
        for name in ("syslog_port", "smtp_port", "proxy_port"):
            port = values.get(name)
            if port is not None and not (isinstance(port, int) and 1 <= port <= 65535):
                raise ServiceError("Enter a port number from 1 to 65535.", field=name)
    if tab == "language" and values.get("default_language") not in dict(settings.LANGUAGES):
        raise ServiceError("Select one of the supported languages.", field="default_language")
    if tab == "time" and values.get("time_zone") not in zoneinfo.available_timezones():
        raise ServiceError("Select a time zone from the list.", field="time_zone")
    if tab == "email":
        for name, label in (
            ("smtp_host", "SMTP Server"),
            ("smtp_helo_domain", "HELO Domain"),
            ("smtp_from", "Email From"),
        ):
            if not str(values.get(name, "")).strip():
                raise ServiceError(f"{label} is required.", field=name)
        try:
            validate_email(values["smtp_from"])
        except ValidationError as error:
            raise ServiceError("Email From must be a legitimate email address.", field="smtp_from") from error
        if values.get("smtp_auth_required") and not values.get("smtp_username", "").strip():
            raise ServiceError("Authentication Required needs a username and a password.", field="smtp_username")
    if smtp_password is not None and len(smtp_password) > 512:
        raise ServiceError("The password is too long.", field="smtp_password")
