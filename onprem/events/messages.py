"""The event catalogue: one entry per event type, with its severity and message text.

Texts marked ``guide`` are the vendor guide's ("Related SYSLOG Message Text") with its
``%{name}`` placeholders turned into ``{name}``; the others are ours, written in the same voice
for events the guide does not list. Severities map to the syslog levels the Settings widget
sends (INFO / WARN / ALERT).
"""
from dataclasses import dataclass

INFO, WARN, ALERT = "INFO", "WARN", "ALERT"


@dataclass(frozen=True)
class EventType:
    code: str
    severity: str
    text: str
    from_guide: bool = False


def _catalogue(*types):
    return {event_type.code: event_type for event_type in types}


CATALOGUE = _catalogue(
    # Users and sign-in
    EventType("user.added", INFO, "A new user “{user_name}” was added.", from_guide=True),
    EventType("user.role_added", INFO, "The user “{user_name}” was assigned the role “{role_name}”.", from_guide=True),
    EventType("user.role_removed", INFO, "The role “{role_name}” was removed from the user “{user_name}”."),
    EventType(
        "user.va_role_removed_on_delete",
        INFO,
        "User “{user_ccoid}” was removed as virtual account admin when “{pool_name}” was deleted.",
        from_guide=True,
    ),
    EventType("user.system_role_changed", INFO, "The system role of the user “{user_name}” was changed to “{role_name}”."),
    EventType("user.disabled", WARN, "The user “{user_name}” was disabled."),
    EventType("user.enabled", INFO, "The user “{user_name}” was enabled."),
    EventType("user.removed", WARN, "The user “{user_name}” was removed."),
    EventType("user.password_changed", INFO, "The password of the user “{user_name}” was changed."),
    EventType("user.first_login_completed", INFO, "The user “{user_name}” completed the initial login wizard."),
    EventType("auth.login", INFO, "The user “{user_name}” logged in."),
    EventType("auth.login_failed", WARN, "A login attempt for the user “{user_name}” failed."),
    EventType("auth.logout", INFO, "The user “{user_name}” logged out."),
    EventType("auth.idle_timeout", INFO, "The session of the user “{user_name}” ended after 10 minutes without activity."),
    # Local accounts and their requests
    EventType("account.requested", INFO, "The user “{user_name}” requested the local account “{account_name}”."),
    EventType("account.created", INFO, "The local account “{account_name}” was created."),
    EventType("account.request_approved", INFO, "The request for the local account “{account_name}” was approved by “{user_name}”."),
    EventType("account.request_rejected", WARN, "The request for the local account “{account_name}” was rejected by “{user_name}”."),
    EventType("account.activated", INFO, "The local account “{account_name}” was activated."),
    EventType("account.deactivated", WARN, "The local account “{account_name}” was deactivated."),
    EventType("access.requested", INFO, "The user “{user_name}” requested access to the local account “{account_name}”."),
    EventType("access.approved", INFO, "The access request of the user “{user_name}” to the local account “{account_name}” was approved."),
    EventType("access.declined", INFO, "The access request of the user “{user_name}” to the local account “{account_name}” was declined."),
    # Local virtual accounts
    EventType("va.created", INFO, "The Virtual Account “{pool_name}” was created", from_guide=True),
    EventType("va.renamed", INFO, "The Virtual Account “{old_pool_name}” was renamed to “{new_pool_name}”", from_guide=True),
    EventType("va.removed", WARN, "The Virtual Account “{pool_name}” has been deleted", from_guide=True),
    # User groups
    EventType("group.added", INFO, "User group “{user_group_name}” was created.", from_guide=True),
    EventType("group.updated", INFO, "User group “{user_group_name}” was updated.", from_guide=True),
    EventType("group.removed", INFO, "User group “{user_group_name}” was removed.", from_guide=True),
    EventType("group.user_added", INFO, "User “{uid}” was added to user group “{user_group_name}”.", from_guide=True),
    EventType("group.user_removed", INFO, "User “{uid}” was removed from group “{user_group_name}”.", from_guide=True),
    # Users widget
    EventType("user.password_reset", WARN, "The password of the user “{user_name}” was reset by an administrator."),
    # Registration tokens (licensing engine). The guide's revoke/remove texts break off after
    # "was"; the last word is the action's own.
    EventType(
        "token.created_export",
        INFO,
        "A new Token “{token_string}” allowing export-controlled functionality was generated for the "
        "Virtual Account “{pool_name}”.",
        from_guide=True,
    ),
    EventType(
        "token.created",
        INFO,
        "A new Token “{token_string}” not allowing export-controlled functionality was generated for the "
        "Virtual Account “{pool_name}”.",
        from_guide=True,
    ),
    EventType("token.revoked", INFO, "The Token “{token_string}” in the Virtual Account “{pool_name}” was revoked.",
              from_guide=True),
    EventType("token.removed", INFO, "The Token “{token_string}” in the Virtual Account “{pool_name}” was removed.",
              from_guide=True),
    # Licenses Expired (licensing engine): one event per expired line, singular and plural,
    # with and without a subscription ID.
    EventType(
        "license.expired_one",
        WARN,
        "1 “{tag}” {type} license in the Virtual Account “{pool_name}” expired on {end_date}",
        from_guide=True,
    ),
    EventType(
        "license.expired",
        WARN,
        "{count} “{tag}” {type} licenses in the Virtual Account “{pool_name}” expired on {end_date}",
        from_guide=True,
    ),
    EventType(
        "license.expired_subscription_one",
        WARN,
        "1 “{tag}” {type} license associated with Subscription ID “{sub_ref_id}” in the Virtual Account "
        "“{pool_name}” expired on {end_date}",
        from_guide=True,
    ),
    EventType(
        "license.expired_subscription",
        WARN,
        "{count} “{tag}” {type} licenses associated with Subscription ID “{sub_ref_id}” in the Virtual "
        "Account “{pool_name}” expired on {end_date}",
        from_guide=True,
    ),
)


def render(code, **params):
    """The message text of an event type with its placeholders filled in."""
    return CATALOGUE[code].text.format(**params)


# -- Licensing engine, second half: transfers, product instances, alerts ---------------------
# Licenses Transferred: the guide gives each text twice, "from A to B" (recorded on the source
# virtual account) and "to B from A" (recorded on the destination).
def _transferred(code, sub, one):
    count = "1" if one else "{count}"
    noun, verb = ("license", "was") if one else ("licenses", "were")
    sub_text = " associated with Subscription ID “{sub_ref_id}”" if sub else ""
    head = f"{count} “{{tag}}” {{type}} {noun}{sub_text} {verb} transferred"
    return (
        EventType(code, INFO, f"{head} from the Virtual Account “{{old_pool_name}}” to the Virtual Account "
                              "“{new_pool_name}”.", from_guide=True),
        EventType(f"{code}_in", INFO, f"{head} to the Virtual Account “{{new_pool_name}}” from the Virtual "
                                      "Account “{old_pool_name}”.", from_guide=True),
    )


# Licenses Expiring: the guide leaves the quotes off the tag in the Subscription ID variants.
def _expiring(code, sub, one, when):
    count = "1" if one else "{count}"
    noun, verb = ("license", "is") if one else ("licenses", "are")
    tag = "{tag}" if sub else "“{tag}”"
    sub_text = " associated with Subscription ID {sub_ref_id}" if sub else ""
    return EventType(code, WARN, f"{count} {tag} {{type}} {noun}{sub_text} in the Virtual Account “{{pool_name}}” "
                                 f"{verb} set to expire {when} on {{end_date}}", from_guide=True)


_FAILED_TO_CONNECT = (
    "The product instance “{identifier}” in the Virtual Account “{pool_name}” has not connected for its renewal "
    "period. The product instance may run in a degraded state if it does not connect %s. If the product "
    "instance is not going to connect, you can remove it to immediately release the non-restricted licenses it "
    "is consuming. Please have the product instance connect to Smart Software Manager or open a support case to "
    "have it removed."
)

CATALOGUE.update(_catalogue(
    *_transferred("license.transferred_one", False, True),
    *_transferred("license.transferred", False, False),
    *_transferred("license.transferred_subscription_one", True, True),
    *_transferred("license.transferred_subscription", True, False),
    EventType("pi.transferred", INFO, "The product instance “{identifier}” was transferred from the Virtual Account "
                                      "“{old_pool_name}” to the Virtual Account “{new_pool_name}”.", from_guide=True),
    EventType("pi.transferred_in", INFO, "The product instance “{identifier}” was transferred to the Virtual Account "
                                         "“{new_pool_name}” from the Virtual Account “{old_pool_name}”.",
              from_guide=True),
    EventType("pi.removed", WARN, "The product instance “{identifier}” was removed from Smart Software Manager.",
              from_guide=True),
    EventType("pi.failed_to_connect_today", WARN, _FAILED_TO_CONNECT % "today", from_guide=True),
    EventType("pi.failed_to_connect_one", WARN, _FAILED_TO_CONNECT % "within the next 1 day", from_guide=True),
    EventType("pi.failed_to_connect", WARN, _FAILED_TO_CONNECT % "within the next {count} days", from_guide=True),
    EventType(
        "pi.failed_to_renew", ALERT,
        "The product instance “{identifier}” in the Virtual Account “{pool_name}” failed to connect during its "
        "renewal period and may be running in a degraded state. The non-restricted licenses it was consuming have "
        "been released for use by other product instances. Please have the product instance connect to Smart "
        "Software Manager or open a support case to have it removed.",
        from_guide=True,
    ),
    EventType("license.insufficient_one", WARN, "The Virtual Account “{pool_name}” has a shortage of “{tag}” "
                                                "licenses. 1 license is required to return to compliance.",
              from_guide=True),
    EventType("license.insufficient", WARN, "The Virtual Account “{pool_name}” has a shortage of “{tag}” licenses. "
                                            "{count} licenses are required to return to compliance.",
              from_guide=True),
    *(
        _expiring(f"license.expiring{'_subscription' if sub else ''}{'_one' if one else ''}_{suffix}", sub, one, when)
        for sub in (False, True) for one in (True, False)
        for suffix, when in (("today", "today"), ("1day", "in 1 day"), ("days", "in {days} days"))
    ),
))
