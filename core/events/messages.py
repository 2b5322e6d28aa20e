"""The event catalogue: one entry per event type, with its severity and message text.

Texts marked ``guide`` are the vendor guide's ("Related SYSLOG Message Text") with its
``%{name}`` placeholders turned into ``{name}``; the others are ours, written in the same voice
for events the guide does not list. Severities map to the syslog levels the Settings widget
sends (INFO / WARN / ALERT).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

INFO, WARN, ALERT = "INFO", "WARN", "ALERT"
# The Syslog tab: "WARN: Minor alerts, ALERT: Major alerts" (an Alert.severity value -> its events').
ALERT_SEVERITY = {"major": ALERT, "minor": WARN}

# What the event logs show in the Severity column (the stored value stays the syslog level).
SEVERITY_LABELS = {INFO: _("Information"), WARN: _("Warning"), ALERT: _("Alert")}


@dataclass(frozen=True)
class EventType:
    code: str
    severity: str
    text: str
    from_guide: bool = False

    @property
    def title(self):
        """The event type's name as an administrator reads it (translated; see ``TITLES``)."""
        return TITLES.get(self.code) or self.code.replace(".", ": ").replace("_", " ").capitalize()


def _catalogue(*types):
    return {event_type.code: event_type for event_type in types}


CATALOGUE = _catalogue(
    # Backup and restore
    EventType(
        "system.restored",
        WARN,
        "The server was restored from a backup made at {created_at}; {flagged} registered "
        "local account(s) will send a full synchronization next.",
    ),
    # Settings widget
    EventType("settings.messaging_changed", INFO, "The messaging settings were changed by “{user_name}”."),
    EventType("settings.syslog_changed", INFO, "The syslog settings were changed by “{user_name}”."),
    EventType("settings.language_changed", INFO, "The default language was changed by “{user_name}”."),
    EventType("settings.email_changed", INFO, "The email settings were changed by “{user_name}”."),
    EventType("settings.time_changed", INFO, "The time settings were changed by “{user_name}”."),
    EventType("settings.motd_changed", INFO, "The message of the day was changed by “{user_name}”."),
    # Network widget
    EventType("network.general_changed", INFO, "The SSM On-Prem name was changed by “{user_name}”."),
    EventType("network.proxy_changed", INFO, "The proxy settings were changed by “{user_name}”."),
    # High Availability Status widget: copied from the pg_auto_failover monitor (admin_widgets/ha/events.py)
    EventType("ha.host_lost", ALERT, "The cluster lost the host {node_name} ({address}): the monitor cannot reach it."),
    EventType("ha.host_back", INFO, "The host {node_name} ({address}) is back in the cluster."),
    EventType("ha.failover", ALERT, "Failover: {node_name} ({address}) was promoted and is the primary now."),
    EventType("ha.host_added", INFO, "The host {node_name} ({address}) joined the cluster."),
    EventType("ha.host_removed", WARN, "The host {node_name} ({address}) was removed from the cluster."),
    EventType("ha.monitor_lost", ALERT, "The cluster monitor {monitor} cannot be reached: {error}"),
    EventType("ha.monitor_back", INFO, "The cluster monitor {monitor} answers again."),
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
    EventType(
        "user.system_role_changed", INFO, "The system role of the user “{user_name}” was changed to “{role_name}”."
    ),
    EventType("user.disabled", WARN, "The user “{user_name}” was disabled."),
    EventType("user.enabled", INFO, "The user “{user_name}” was enabled."),
    EventType("user.removed", WARN, "The user “{user_name}” was removed."),
    EventType(
        "user.last_admin_kept",
        WARN,
        "The identity provider's role claims give the user “{user_name}” the role "
        "“{role_name}”; the user stays System Admin because no other System Admin is enabled.",
    ),
    EventType("user.password_changed", INFO, "The password of the user “{user_name}” was changed."),
    EventType("user.first_login_completed", INFO, "The user “{user_name}” completed the initial login wizard."),
    EventType("auth.login", INFO, "The user “{user_name}” logged in."),
    EventType("auth.login_failed", WARN, "A login attempt for the user “{user_name}” failed."),
    EventType("auth.logout", INFO, "The user “{user_name}” logged out."),
    EventType(
        "auth.idle_timeout", INFO, "The session of the user “{user_name}” ended after 10 minutes without activity."
    ),
    # Local accounts and their requests
    EventType("account.requested", INFO, "The user “{user_name}” requested the local account “{account_name}”."),
    EventType("account.created", INFO, "The local account “{account_name}” was created."),
    EventType(
        "account.request_approved",
        INFO,
        "The request for the local account “{account_name}” was approved by “{user_name}”.",
    ),
    EventType(
        "account.request_rejected",
        WARN,
        "The request for the local account “{account_name}” was rejected by “{user_name}”.",
    ),
    EventType("account.activated", INFO, "The local account “{account_name}” was activated."),
    EventType("account.deactivated", WARN, "The local account “{account_name}” was deactivated."),
    EventType(
        "access.requested", INFO, "The user “{user_name}” requested access to the local account “{account_name}”."
    ),
    EventType(
        "access.approved",
        INFO,
        "The access request of the user “{user_name}” to the local account “{account_name}” was approved.",
    ),
    EventType(
        "access.declined",
        INFO,
        "The access request of the user “{user_name}” to the local account “{account_name}” was declined.",
    ),
    # Local virtual accounts
    EventType("va.created", INFO, "The Virtual Account “{pool_name}” was created", from_guide=True),
    EventType(
        "va.renamed", INFO, "The Virtual Account “{old_pool_name}” was renamed to “{new_pool_name}”", from_guide=True
    ),
    EventType("va.removed", WARN, "The Virtual Account “{pool_name}” has been deleted", from_guide=True),
    # User groups
    EventType("group.added", INFO, "User group “{user_group_name}” was created.", from_guide=True),
    EventType("group.updated", INFO, "User group “{user_group_name}” was updated.", from_guide=True),
    EventType("group.removed", INFO, "User group “{user_group_name}” was removed.", from_guide=True),
    EventType("group.user_added", INFO, "User “{uid}” was added to user group “{user_group_name}”.", from_guide=True),
    EventType("group.user_removed", INFO, "User “{uid}” was removed from group “{user_group_name}”.", from_guide=True),
    EventType(
        "group.message_sent",
        INFO,
        "The message “{subject}” was sent to {count} member(s) of user group “{user_group_name}” by “{user_name}”.",
    ),
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
    EventType(
        "token.revoked",
        INFO,
        "The Token “{token_string}” in the Virtual Account “{pool_name}” was revoked.",
        from_guide=True,
    ),
    EventType(
        "token.removed",
        INFO,
        "The Token “{token_string}” in the Virtual Account “{pool_name}” was removed.",
        from_guide=True,
    ),
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


# -- Licensing engine: transfers, product instances, alerts ----------------------------------
# Licenses Transferred: the guide gives each text twice, "from A to B" (recorded on the source
# virtual account) and "to B from A" (recorded on the destination).
def _transferred(code, sub, one):
    count = "1" if one else "{count}"
    noun, verb = ("license", "was") if one else ("licenses", "were")
    sub_text = " associated with Subscription ID “{sub_ref_id}”" if sub else ""
    head = f"{count} “{{tag}}” {{type}} {noun}{sub_text} {verb} transferred"
    return (
        EventType(
            code,
            INFO,
            f"{head} from the Virtual Account “{{old_pool_name}}” to the Virtual Account “{{new_pool_name}}”.",
            from_guide=True,
        ),
        EventType(
            f"{code}_in",
            INFO,
            f"{head} to the Virtual Account “{{new_pool_name}}” from the Virtual Account “{{old_pool_name}}”.",
            from_guide=True,
        ),
    )


# Licenses Expiring: the guide leaves the quotes off the tag in the Subscription ID variants.
def _expiring(code, sub, one, when):
    count = "1" if one else "{count}"
    noun, verb = ("license", "is") if one else ("licenses", "are")
    tag = "{tag}" if sub else "“{tag}”"
    sub_text = " associated with Subscription ID {sub_ref_id}" if sub else ""
    return EventType(
        code,
        WARN,
        f"{count} {tag} {{type}} {noun}{sub_text} in the Virtual Account “{{pool_name}}” "
        f"{verb} set to expire {when} on {{end_date}}",
        from_guide=True,
    )


_FAILED_TO_CONNECT = (
    "The product instance “{identifier}” in the Virtual Account “{pool_name}” has not connected for its renewal "
    "period. The product instance may run in a degraded state if it does not connect %s. If the product "
    "instance is not going to connect, you can remove it to immediately release the non-restricted licenses it "
    "is consuming. Please have the product instance connect to Smart Software Manager or open a support case to "
    "have it removed."
)

CATALOGUE.update(
    _catalogue(
        *_transferred("license.transferred_one", False, True),
        *_transferred("license.transferred", False, False),
        *_transferred("license.transferred_subscription_one", True, True),
        *_transferred("license.transferred_subscription", True, False),
        EventType(
            "pi.transferred",
            INFO,
            "The product instance “{identifier}” was transferred from the Virtual Account "
            "“{old_pool_name}” to the Virtual Account “{new_pool_name}”.",
            from_guide=True,
        ),
        EventType(
            "pi.transferred_in",
            INFO,
            "The product instance “{identifier}” was transferred to the Virtual Account "
            "“{new_pool_name}” from the Virtual Account “{old_pool_name}”.",
            from_guide=True,
        ),
        EventType(
            "pi.removed",
            WARN,
            "The product instance “{identifier}” was removed from Smart Software Manager.",
            from_guide=True,
        ),
        EventType("pi.failed_to_connect_today", WARN, _FAILED_TO_CONNECT % "today", from_guide=True),
        EventType("pi.failed_to_connect_one", WARN, _FAILED_TO_CONNECT % "within the next 1 day", from_guide=True),
        EventType("pi.failed_to_connect", WARN, _FAILED_TO_CONNECT % "within the next {count} days", from_guide=True),
        EventType(
            "pi.failed_to_renew",
            ALERT,
            "The product instance “{identifier}” in the Virtual Account “{pool_name}” failed to connect during its "
            "renewal period and may be running in a degraded state. The non-restricted licenses it was consuming have "
            "been released for use by other product instances. Please have the product instance connect to Smart "
            "Software Manager or open a support case to have it removed.",
            from_guide=True,
        ),
        EventType(
            "license.insufficient_one",
            WARN,
            "The Virtual Account “{pool_name}” has a shortage of “{tag}” "
            "licenses. 1 license is required to return to compliance.",
            from_guide=True,
        ),
        EventType(
            "license.corrected_one",
            INFO,
            "The shortage of 1 “{tag}” license in the Virtual Account “{pool_name}” has been corrected.",
            from_guide=True,
        ),
        EventType(
            "license.corrected",
            INFO,
            "The shortage of {count} “{tag}” licenses in the Virtual Account “{pool_name}” has been corrected.",
            from_guide=True,
        ),
        EventType(
            "alert.cleared",
            INFO,
            "The {alert_name} alert was cleared: its cause is gone. It said: {message}",
        ),
        EventType(
            "license.insufficient",
            WARN,
            "The Virtual Account “{pool_name}” has a shortage of “{tag}” licenses. "
            "{count} licenses are required to return to compliance.",
            from_guide=True,
        ),
        *(
            _expiring(
                f"license.expiring{'_subscription' if sub else ''}{'_one' if one else ''}_{suffix}", sub, one, when
            )
            for sub in (False, True)
            for one in (True, False)
            for suffix, when in (("today", "today"), ("1day", "in 1 day"), ("days", "in {days} days"))
        ),
    )
)

# -- API Toolkit and the embedded OAuth2 server: the guide lists no texts for these -----------
CATALOGUE.update(
    _catalogue(
        EventType("api.console_enabled", INFO, "The API Console was enabled."),
        EventType("api.console_disabled", WARN, "The API Console was disabled."),
        EventType("api.grant_created", INFO, "The {grant_type} “{grant_name}” was created."),
        EventType("api.grant_updated", INFO, "The {grant_type} “{grant_name}” was updated."),
        EventType("api.grant_deleted", WARN, "The {grant_type} “{grant_name}” was deleted."),
        EventType(
            "api.secret_regenerated", INFO, "The client secret of the {grant_type} “{grant_name}” was regenerated."
        ),
        EventType(
            "api.access_added",
            INFO,
            "The Client Credentials Grant “{grant_name}” was given the role “{role_name}” on “{scope_name}”.",
        ),
        EventType(
            "api.access_removed",
            INFO,
            "The role “{role_name}” on “{scope_name}” was removed from the Client Credentials Grant “{grant_name}”.",
        ),
        EventType(
            "api.token_issued",
            INFO,
            "An API access token was issued to the client “{client_id}” ({grant_name}) for {who}.",
        ),
        EventType(
            "api.token_failed",
            WARN,
            "An API access token request from {ip} failed: {reason} (client “{client_id}”, "
            "grant type “{grant_type}”{user_part}).",
        ),
        EventType(
            "api.token_rate_limited",
            WARN,
            "API access token requests from {ip} (client “{client_id}”) exceeded the rate limit.",
        ),
        EventType(
            "auth.login_rate_limited",
            WARN,
            "Sign-in attempts from {ip} for the user “{user_name}” exceeded the rate limit.",
        ),
    )
)

# Access Management widget (LDAP, OAuth2 ADFS, SSO client)
CATALOGUE.update(
    _catalogue(
        EventType("access.ldap_config_saved", INFO, "The LDAP configuration “{title}” was saved ({state})."),
        EventType("access.ldap_groups_imported", INFO, "{count} LDAP groups were imported from the LDAP server."),
        EventType("access.provider_saved", INFO, "The {method} configuration was saved ({state})."),
        EventType("auth.external_login_failed", WARN, "A login attempt through {method} failed: {reason}."),
    )
)


# -- Device protocol: registration, renewal, usage, export control, DLC -----------------------
CATALOGUE.update(
    _catalogue(
        EventType(
            "device.registered",
            INFO,
            "The product instance “{identifier}” was registered to the Virtual Account “{pool_name}”.",
        ),
        EventType(
            "device.added_redundant",
            INFO,
            "The product instance “{identifier}” was added to the Virtual Account "
            "“{pool_name}” and configured for redundancy with the following "
            "Standbys “{ha_list}”",
            from_guide=True,
        ),
        EventType(
            "device.connected",
            INFO,
            "The product instance “{identifier}” in the Virtual Account “{pool_name}” "
            "connected and successfully renewed.",
            from_guide=True,
        ),
        EventType(
            "device.id_renewed",
            INFO,
            "The product instance “{identifier}” in the Virtual Account “{pool_name}” "
            "connected and successfully renewed its identity certificate.",
            from_guide=True,
        ),
        EventType(
            "device.usage_reported",
            INFO,
            "Usage report from product instance “{identifier}” in the Virtual "
            "Account “{pool_name}”: {count} new report(s).",
        ),
        EventType(
            "pi.usage_sync_requested",
            INFO,
            "“{user_name}” asked that {count} usage report(s) of the Virtual Account “{pool_name}” be "
            "synchronized with Cisco Smart Software Manager.",
        ),
        EventType(
            "device.export_pending",
            INFO,
            "The product instance “{device_name}” in the Virtual Account “{pool_name}” requested a license with "
            "restricted encryption technology which is pending authorization via synchronization with Cisco "
            "Smart Software Manager.",
            from_guide=True,
        ),
        EventType(
            "device.export_return_pending",
            INFO,
            "The product instance “{device_name}” in the Virtual Account “{pool_name}” requested a return of a "
            "license with restricted encryption technology which is pending authorization via synchronization "
            "with Cisco Smart Software Manager.",
            from_guide=True,
        ),
        EventType(
            "device.sync_required_export",
            WARN,
            "Synchronization Required: An Export Controlled license request "
            "from a product instance needs authorization from Cisco Smart "
            "Software Manager.",
            from_guide=True,
        ),
        EventType(
            "device.sync_required_dlc",
            WARN,
            "Synchronization Required: Device Led Conversion requests are "
            "pending. Conversion results will be displayed when synchronization "
            "with CSSM is complete.",
            from_guide=True,
        ),
        EventType(
            "device.export_keys_consumed",
            INFO,
            "Export restricted licenses were assigned to product instance "
            "“{display_name}” in Virtual Account “{pool_name}”.",
            from_guide=True,
        ),
        EventType(
            "device.export_keys_returned",
            INFO,
            "Export restricted licenses were removed from product instance “{pi_display_name}” in Virtual Account "
            "“{pool_name}” and were released back to the inventory for use by other product instances. "
            "Licenses: {licenses}.",
            from_guide=True,
        ),
        EventType(
            "device.export_not_available",
            WARN,
            "The product instance “{display_name}” in Virtual Account “{pool_name}” has requested export "
            "restricted licenses that are not available. You must add these licenses to this Virtual Account or "
            "transfer the product instance to a Virtual Account that contains these licenses. Licenses: "
            "{licenses}.",
            from_guide=True,
        ),
        EventType("device.dlc_complete", INFO, "Conversion Successful", from_guide=True),
        EventType("device.dlc_failed", WARN, "Conversion Failed error for product “{product}”", from_guide=True),
        EventType(
            "device.third_party_keys",
            INFO,
            "The product instance “{identifier}” in the Virtual Account “{pool_name}” "
            "connected and received third party keys",
            from_guide=True,
        ),
    )
)

# -- Security widget: auto lock, sessions, password policy, certificates. The guide lists
# no texts for these; they follow its voice.
CATALOGUE.update(
    _catalogue(
        EventType(
            "security.account_settings_changed", INFO, "The security account settings were changed by “{user_name}”."
        ),
        EventType("security.password_settings_changed", INFO, "The password settings were changed by “{user_name}”."),
        EventType(
            "security.user_locked",
            WARN,
            "The user “{user_name}” was locked after {attempts} failed login attempts within {minutes} minutes.",
        ),
        EventType("security.user_unlocked", INFO, "The user “{user_name}” was unlocked by “{by}”."),
        EventType("security.lock_expired", INFO, "The lock of the user “{user_name}” expired."),
        EventType(
            "security.login_refused_locked", WARN, "A login attempt of the locked user “{user_name}” was refused."
        ),
        EventType(
            "security.session_ended",
            WARN,
            "{count} session(s) of the user “{user_name}” were ended: the session limit is {limit}.",
        ),
        EventType(
            "security.password_expired", WARN, "The password of the user “{user_name}” expired; a new one is required."
        ),
        EventType(
            "security.login_refused_expired",
            WARN,
            "A login attempt of the user “{user_name}” was refused: the password expired.",
        ),
        EventType(
            "security.login_refused_web_first",
            WARN,
            "A token request of the user “{user_name}” was refused: they must sign in to the web UI first to {task}.",
        ),
        EventType(
            "security.api_tokens_revoked",
            INFO,
            "{count} API token(s) of the user “{user_name}” were revoked: the password changed.",
        ),
        EventType(
            "security.password_expiry_notice",
            INFO,
            "The user “{user_name}” was told that their password expires on {date}.",
        ),
        EventType(
            "security.password_reset_requested", INFO, "A password reset link was sent to the user “{user_name}”."
        ),
        EventType(
            "security.password_reset_done",
            INFO,
            "The user “{user_name}” set a new password with a password reset link.",
        ),
        EventType(
            "security.host_common_name_changed",
            INFO,
            "The Host Common Name was changed to “{common_name}” by “{user_name}”.",
        ),
        EventType(
            "security.csr_generated",
            INFO,
            "A certificate signing request for “{common_name}” ({key_size} bit) was generated by “{user_name}”.",
        ),
        EventType(
            "security.certificate_imported",
            INFO,
            "The certificate “{subject}” (valid until {expires}) was "
            "imported by “{user_name}”; it is served after the next "
            "restart.",
        ),
        EventType(
            "security.certificate_reverted",
            WARN,
            "The default self-signed certificate was restored by “{user_name}”; it is served after the next restart.",
        ),
    )
)

# -- Preferences, Convert to Smart Licensing, custom VA tags, remaining alert types -----------
# The guide lists no texts for preferences, DLC settings or custom tags; the Synchronization
# Overdue / Re-registration Required texts are the guide's ("Synchronization Alerts").
CATALOGUE.update(
    _catalogue(
        EventType(
            "preferences.changed",
            INFO,
            "The preference “{preference}” of the user “{user_name}” was changed from “{old_value}” to “{new_value}”.",
        ),
        EventType(
            "conversion.settings_changed",
            INFO,
            "The Device Led Conversion settings were changed by “{user_name}”: {summary}.",
        ),
        EventType(
            "conversion.requested",
            INFO,
            "The product instance “{identifier}” in the Virtual Account "
            "“{pool_name}” requested a Device Led Conversion of {licenses}.",
        ),
        EventType("custom_tag.created", INFO, "The virtual account custom tag “{tag_name}” was created."),
        EventType("custom_tag.updated", INFO, "The virtual account custom tag “{tag_name}” was updated."),
        EventType("custom_tag.deleted", WARN, "The virtual account custom tag “{tag_name}” was deleted."),
        # Specific License Reservation (licensing.services.reservations).
        EventType(
            "reservation.reserved",
            INFO,
            "The following licenses were reserved on product instance “{identifier}” in Virtual Account "
            "“{pool_name}”: {details}.",
            from_guide=True,
        ),
        EventType(
            "reservation.updated",
            INFO,
            "The licenses reserved on product instance “{identifier}” in Virtual Account “{pool_name}” were "
            "updated from {old_count} to {count} “{tag}” License(s): {details}.",
        ),
        EventType(
            "reservation.returned",
            INFO,
            "The {count} “{tag}” License(s) reserved on product instance “{identifier}” were returned to the "
            "Virtual Account “{pool_name}”.",
        ),
        EventType(
            "reservation.transferred",
            INFO,
            "The licenses reserved on product instance “{identifier}” were transferred from the Virtual Account "
            "“{old_pool_name}” to the Virtual Account “{new_pool_name}”: {details}.",
        ),
        EventType(
            "reservation.transferred_in",
            INFO,
            "The licenses reserved on product instance “{identifier}” were transferred to the Virtual Account "
            "“{new_pool_name}” from the Virtual Account “{old_pool_name}”: {details}.",
        ),
        EventType(
            "reservation.expired",
            WARN,
            "Reserved License Expired: a term license in the reservation of product instance “{identifier}” in "
            "the Virtual Account “{pool_name}” has expired: {count} “{tag}” License(s) expired on {end_date}.",
        ),
        EventType(
            "reservation.returned_to_smart_account",
            WARN,
            "The product instance “{identifier}”, which had licenses reserved, has been moved to another Smart "
            "Account. The licenses it was reserving will be returned to the original virtual account "
            "“{pool_name}”. Licenses reserved: {licenses}.",
            from_guide=True,
        ),
        # License tags (Inventory > Licenses: Available Actions, Manage License Tags). Ours.
        EventType(
            "license_tag.added",
            INFO,
            "The license tags {tag_names} were added to {licenses} in the Virtual Account “{pool_name}”.",
        ),
        EventType(
            "license_tag.removed",
            INFO,
            "The license tags {tag_names} were removed from {licenses} in the Virtual Account “{pool_name}”.",
        ),
        EventType(
            "license_tag.renamed",
            INFO,
            "The license tag “{old_name}” was renamed to “{tag_name}” on every license of the local account "
            "“{account_name}”.",
        ),
        EventType(
            "license_tag.deleted",
            WARN,
            "The license tag “{tag_name}” was deleted from the local account “{account_name}” "
            "({count} license(s) carried it).",
        ),
        EventType(
            "license.duplicate",
            WARN,
            "The Virtual Account “{pool_name}” holds duplicate “{tag}” licenses from the "
            "Subscription IDs {subscriptions}.",
        ),
        EventType(
            "alert.sync_overdue_minor",
            WARN,
            "Synchronization Overdue: local Account has not synchronized in {days} days.",
            from_guide=True,
        ),
        EventType(
            "alert.sync_overdue",
            ALERT,
            "Synchronization Overdue: On-Prem has not synchronized in {days} days.",
            from_guide=True,
        ),
        EventType(
            "alert.reregistration_required",
            ALERT,
            "Re-registration Required: On-Prem was not synchronized for 365 days and must be re-registered with "
            "Cisco Smart Software Manager",
            from_guide=True,
        ),
    )
)

# -- Registration and synchronization with CSSM (sync/). The guide's texts are
# marked; the others follow its voice.
CATALOGUE.update(
    _catalogue(
        EventType(
            "sync.registered",
            INFO,
            "The On-Prem “{account_name}” was registered to Smart Account "
            "“{smart_account_name}” and Virtual Account “{virtual_account_name}” by User "
            "“{user_name}”.",
        ),
        EventType("sync.registration_file", INFO, "Registration file generated for account {account_name}"),
        EventType(
            "sync.reregistration_file",
            INFO,
            "Re-registration file generated for account {logical_account_name}",
            from_guide=True,
        ),
        EventType(
            "sync.reregistered",
            INFO,
            "The On-Prem “{logical_account_name}” was Re-Registered to Smart Account "
            "“{smart_account_name}” and Virtual Account “{virtual_account_name}” by User "
            "“{user_name}” at “{time}”",
            from_guide=True,
        ),
        EventType(
            "sync.registration_failed",
            ALERT,
            "The registration of the local account “{account_name}” with Cisco Smart Software Manager failed: {reason}",
        ),
        EventType("sync.succeeded", INFO, "Synchronization Successful", from_guide=True),
        EventType(
            "sync.failed",
            ALERT,
            "Synchronization Failed: The Smart Software Manager On-Prem account "
            "“{display_name}” synchronization to Cisco has failed. Please go to the "
            "synchronization log for more details.",
            from_guide=True,
        ),
        EventType(
            "sync.request_file",
            INFO,
            "A {sync_type} synchronization request file was generated for the local "
            "account “{account_name}” by “{user_name}”.",
        ),
        EventType(
            "sync.entitlements_failed",
            WARN,
            "One or more entitlements failed to synchronize with CSSM",
            from_guide=True,
        ),
        EventType(
            "sync.onprem_renamed",
            INFO,
            "Cisco Smart Software Manager renamed the SSM On-Prem of the local account "
            "“{account_name}” from “{old_name}” to “{new_name}”.",
        ),
        EventType(
            "sync.third_party_keys",
            INFO,
            "Cisco Smart Software Manager granted the local account “{account_name}” {count} third party "
            "key(s): {added} new, {changed} changed, {removed} withdrawn.",
        ),
        EventType(
            "sync.settings_changed", INFO, "The synchronization settings were changed by “{user_name}”: {summary}."
        ),
        EventType(
            "sync.account_settings_changed",
            INFO,
            "The synchronization settings of the local account "
            "“{account_name}” were changed by “{user_name}”: {summary}.",
        ),
        EventType("account.deleted", WARN, "The local account “{account_name}” was deleted."),
    )
)

# -- What CSSM or the synchronization calendar says (licensing/services/cssm_alerts.py): each
# alert's opening, and its clearing.
CATALOGUE.update(
    _catalogue(
        # The guide's Alert Actions table (its sentence breaks off after "using Smart").
        EventType(
            "alert.agreement_updated",
            ALERT,
            "The Cisco Smart Licensing Agreement has been updated and this new version must be accepted to "
            "continue using Smart Licensing.",
            from_guide=True,
        ),
        EventType(
            "alert.agreement_pending",
            WARN,
            "Smart Licensing Agreement Pending: the acceptance of “{title}” version {version} is sent to Cisco "
            "Smart Software Manager with the next synchronization.",
        ),
        EventType(
            "agreement.accepted",
            INFO,
            "“{title}” version {version} was accepted for the local account “{account_name}” by “{user_name}”.",
        ),
        EventType(
            "alert.onprem_removed",
            ALERT,
            "The Smart Software Manager On-Prem “{onprem_name}” failed to synchronize within 90 days and was "
            "removed from Smart Software Manager. All of the product instances registered through the On-Prem "
            "were also removed from the associated local Virtual Accounts and may be running in a degraded state.",
            from_guide=True,
        ),
        EventType(
            "alert.authorization_pending",
            WARN,
            "The Smart Software Manager On-Prem “{onprem_name}” has been created but requires an On-Prem "
            "Authorization File to complete the registration process. An email notification will be sent to "
            "“{email}” when the file has been generated and is ready to be downloaded.",
            from_guide=True,
        ),
        EventType(
            "alert.authorization_ready",
            WARN,
            "The Authorization File for Smart Software Manager On-Prem “{onprem_name}” has been generated and "
            "is ready to be downloaded. To complete the registration process, save this file and upload it to "
            "Smart Software Manager On-Prem using the On-Prem setup utility.",
            from_guide=True,
        ),
        # The guide's Synchronization Overdue text (its API example), which is this warning's.
        EventType(
            "alert.sync_deadline",
            WARN,
            "The Smart Software Manager On-Prem “{onprem_name}” has not synchronized for {not_sync_days}. If it "
            "is not synchronized within {remain_sync_days}, this On-Prem will be removed from Smart Software "
            "Manager and all of the product instances registered through the On-Prem may run in a degraded state.",
            from_guide=True,
        ),
        EventType(
            "alert.onprem_expired",
            ALERT,
            "The Smart Software Manager On-Prem “{onprem_name}” has not synchronized for {not_sync_days} and "
            "has been removed from Smart Software Manager. The product instances registered through the On-Prem "
            "may be running in a degraded state. Synchronize now; if Cisco Smart Software Manager confirms the "
            "removal, re-register the local account.",
        ),
        # The text is CSSM's (the guide: "Temporarily, this SSM On-Prem will only be able to register ...").
        EventType("alert.version_note", WARN, "Version Compatibility Note: {text}"),
        EventType(
            "alert.cssm_cleared",
            INFO,
            "The “{alert_name}” alert of the local account “{account_name}” was cleared: {reason}",
        ),
    )
)

# -- Registration limits: hourly limits of new product instances per token / per
# virtual account (Security widget, Account tab). Recorded once per hour per token / VA.
CATALOGUE.update(
    _catalogue(
        EventType(
            "device.registration_limited_token",
            ALERT,
            "Registration Limit Reached: the registration token “{token_name}” of the Virtual Account "
            "“{pool_name}” added {limit} new product instances within an hour; further new product instances "
            "are refused for now. If the token has leaked, revoke it.",
        ),
        EventType(
            "device.registration_limited_va",
            ALERT,
            "Registration Limit Reached: {limit} new product instances were added to the Virtual Account "
            "“{pool_name}” within an hour; further new product instances are refused for now.",
        ),
    )
)

# -- Re-registration of an existing UDI (licensing/services/device_reregistration.py): a REGISTER
# that would take over or move a product instance and may not. Recorded in the product instance's
# virtual account, at most once per hour per product instance and token.
CATALOGUE.update(
    _catalogue(
        EventType(
            "device.reregistration_refused",
            ALERT,
            "Re-registration Refused: a REGISTER with the registration token “{token_name}” of the Virtual "
            "Account “{token_pool_name}” (created by “{creator}”) tried to re-register the product instance "
            "“{identifier}” of the Virtual Account “{pool_name}” under a new ID key and was refused: the device "
            "did not prove it holds the instance's current ID key, and the token's creator may not transfer "
            "product instances between the two virtual accounts. Nothing was changed. If the token has "
            "leaked, revoke it.",
        ),
        EventType(
            "device.move_refused",
            ALERT,
            "Re-registration Refused: a REGISTER with the registration token “{token_name}” of the Virtual "
            "Account “{token_pool_name}” (created by “{creator}”) tried to move (force) the product instance "
            "“{identifier}” from the Virtual Account “{pool_name}” to “{token_pool_name}” and was refused: "
            "the device did not prove it holds the instance's current ID key, and the token's creator may "
            "not transfer product instances between the two virtual accounts. Nothing was changed. If the "
            "token has leaked, revoke it.",
        ),
    )
)

# -- Usage bounds: a device message whose usage no real product instance would report (Security
# widget, Account tab). Recorded once per hour per local account.
CATALOGUE.update(
    _catalogue(
        EventType(
            "device.usage_refused",
            WARN,
            "Implausible usage refused: a message from the product instance “{identifier}” of the local account "
            "“{account_name}” was refused. {reason} Further refusals in this local account within the hour are "
            "not logged.",
        ),
    )
)


# -- Upgrade licenses ("Upgrade Pending", licensing/services/upgrades.py) and Change Virtual
# Account Assignment (licensing/services/assignments.py).
CATALOGUE.update(
    _catalogue(
        EventType(
            "license.upgrade",
            INFO,
            "{count} new “{tag}” {type} licenses were added to the Virtual Account “{pool_name}”. These licenses "
            "will become available when the upgrade is completed by identifying the licenses to be replaced by "
            "the upgrade licenses.",
            from_guide=True,
        ),
        EventType(
            "license.upgrade_completed",
            INFO,
            "The upgrade of {count} “{replaced_tag}” licenses to “{tag}” was completed in the Virtual Account "
            "“{pool_name}”: {count} “{replaced_tag}” licenses were replaced and {count} “{tag}” licenses are "
            "available.",
        ),
        EventType(
            "license.ported",
            INFO,
            "{count} “{tag}” licenses were ported to “{target}” in the Virtual Account “{pool_name}”: {count} "
            "“{target}” licenses are available with the same terms.",
        ),
        EventType(
            "license.port_refused",
            WARN,
            "Cisco Smart Software Manager refused the port of {count} “{tag}” licenses to “{target}” ({reason}): "
            "the licenses are as Cisco Smart Software Manager holds them after this synchronization.",
        ),
        EventType(
            "sync.portable_licenses",
            INFO,
            "Cisco Smart Software Manager changed which licenses of the local account “{account_name}” can be "
            "ported: {count} license(s) can be ported now.",
        ),
        EventType(
            "license.upgrade_withdrawn",
            WARN,
            "The pending upgrade of {count} “{tag}” licenses was withdrawn by Cisco Smart Software Manager from "
            "the Virtual Account “{pool_name}”.",
        ),
        EventType(
            "license.assignment_moved",
            INFO,
            "{count} “{tag}” licenses associated with Subscription ID “{sub_ref_id}” were moved from the Virtual "
            "Account “{old_pool_name}” to the Virtual Account “{new_pool_name}” (Change Virtual Account "
            "Assignment).",
        ),
        EventType(
            "license.assignment_moved_in",
            INFO,
            "{count} “{tag}” licenses associated with Subscription ID “{sub_ref_id}” were moved to the Virtual "
            "Account “{new_pool_name}” from the Virtual Account “{old_pool_name}” (Change Virtual Account "
            "Assignment).",
        ),
        EventType(
            "license.assignment_copied",
            INFO,
            "{count} “{tag}” licenses associated with Subscription ID “{sub_ref_id}” were copied from the Virtual "
            "Account “{old_pool_name}” to the Virtual Account “{new_pool_name}” (Change Virtual Account "
            "Assignment).",
        ),
        EventType(
            "license.added_manually",
            INFO,
            "{count} “{tag}” {type} licenses were added to the Virtual Account “{pool_name}” by a System "
            "Administrator (Add License).",
        ),
        EventType(
            "license.removed_manually",
            INFO,
            "{count} “{tag}” {type} licenses were removed from the Virtual Account “{pool_name}” by a System "
            "Administrator (Remove Licenses).",
        ),
        EventType(
            "license.assignment_removed",
            INFO,
            "The copy of {count} “{tag}” licenses associated with Subscription ID “{sub_ref_id}” was removed from "
            "the Virtual Account “{pool_name}” (Change Virtual Account Assignment).",
        ),
    )
)


# -- The name of each event type, as the event logs' Event Type column and filters show it.
# The variants of one guide message (singular/plural, with a Subscription ID, the "to B from A"
# copy recorded on the destination, the days left) share one name: an administrator filters on
# what happened, not on which sentence recorded it (``same_kind``).
_FAMILIES = {
    "license.expired": _("Licenses expired"),
    "license.expiring": _("Licenses expiring"),
    "license.transferred": _("Licenses transferred"),
    "license.insufficient": _("Insufficient licenses"),
    "license.corrected": _("Licenses corrected"),
    "pi.transferred": _("Product instance transferred"),
    "reservation.transferred": _("Reserved licenses transferred"),
    "pi.failed_to_connect": _("Product instance failed to connect"),
    "license.assignment_moved": _("Virtual account assignment changed"),
}
TITLES = {
    "alert.cleared": _("Alert cleared"),
    "system.restored": _("Server restored from a backup"),
    "settings.messaging_changed": _("Messaging settings changed"),
    "settings.syslog_changed": _("Syslog settings changed"),
    "settings.language_changed": _("Default language changed"),
    "settings.email_changed": _("Email settings changed"),
    "settings.time_changed": _("Time settings changed"),
    "settings.motd_changed": _("Message of the day changed"),
    "network.general_changed": _("SSM On-Prem name changed"),
    "network.proxy_changed": _("Proxy settings changed"),
    "ha.host_lost": _("Cluster host lost"),
    "ha.host_back": _("Cluster host back"),
    "ha.failover": _("Cluster failover"),
    "ha.host_added": _("Cluster host added"),
    "ha.host_removed": _("Cluster host removed"),
    "ha.monitor_lost": _("Cluster monitor lost"),
    "ha.monitor_back": _("Cluster monitor back"),
    "user.added": _("User added"),
    "user.role_added": _("Role assigned"),
    "user.role_removed": _("Role removed"),
    "user.va_role_removed_on_delete": _("Virtual account admin removed with the virtual account"),
    "user.system_role_changed": _("System role changed"),
    "user.disabled": _("User disabled"),
    "user.enabled": _("User enabled"),
    "user.removed": _("User removed"),
    "user.last_admin_kept": _("Last System Admin kept"),
    "user.password_changed": _("Password changed"),
    "user.first_login_completed": _("Initial login wizard completed"),
    "user.password_reset": _("Password reset by an administrator"),
    "auth.login": _("User logged in"),
    "auth.login_failed": _("Login failed"),
    "auth.logout": _("User logged out"),
    "auth.idle_timeout": _("Session timed out"),
    "auth.login_rate_limited": _("Login attempts rate-limited"),
    "auth.external_login_failed": _("External login failed"),
    "account.requested": _("Local account requested"),
    "account.created": _("Local account created"),
    "account.request_approved": _("Local account request approved"),
    "account.request_rejected": _("Local account request rejected"),
    "account.activated": _("Local account activated"),
    "account.deactivated": _("Local account deactivated"),
    "account.deleted": _("Local account deleted"),
    "access.requested": _("Access requested"),
    "access.approved": _("Access request approved"),
    "access.declined": _("Access request declined"),
    "access.ldap_config_saved": _("LDAP configuration saved"),
    "access.ldap_groups_imported": _("LDAP groups imported"),
    "access.provider_saved": _("Sign-in provider configuration saved"),
    "va.created": _("Virtual account created"),
    "va.renamed": _("Virtual account renamed"),
    "va.removed": _("Virtual account deleted"),
    "group.added": _("User group created"),
    "group.updated": _("User group updated"),
    "group.removed": _("User group removed"),
    "group.user_added": _("User added to a group"),
    "group.user_removed": _("User removed from a group"),
    "token.created_export": _("Registration token created (export-controlled allowed)"),
    "token.created": _("Registration token created"),
    "token.revoked": _("Registration token revoked"),
    "token.removed": _("Registration token removed"),
    "pi.removed": _("Product instance removed"),
    "pi.failed_to_renew": _("Product instance failed to renew"),
    "license.duplicate": _("Duplicate licenses"),
    "reservation.reserved": _("Licenses reserved"),
    "reservation.updated": _("Reserved licenses updated"),
    "reservation.returned": _("Reserved licenses returned"),
    "reservation.expired": _("Reserved license expired"),
    "reservation.returned_to_smart_account": _("Reserved licenses returned to Smart Account"),
    "api.console_enabled": _("API Console enabled"),
    "api.console_disabled": _("API Console disabled"),
    "api.grant_created": _("API grant created"),
    "api.grant_updated": _("API grant updated"),
    "api.grant_deleted": _("API grant deleted"),
    "api.secret_regenerated": _("Client secret regenerated"),
    "api.access_added": _("Role given to an API grant"),
    "api.access_removed": _("Role removed from an API grant"),
    "api.token_issued": _("API access token issued"),
    "api.token_failed": _("API access token request failed"),
    "api.token_rate_limited": _("API access token requests rate-limited"),
    "device.registered": _("Product instance registered"),
    "device.added_redundant": _("Product instance added with standbys"),
    "device.connected": _("Product instance renewed"),
    "device.id_renewed": _("Identity certificate renewed"),
    "device.usage_reported": _("Usage reported"),
    "device.export_pending": _("Export-controlled license pending"),
    "device.export_return_pending": _("Export-controlled license return pending"),
    "device.sync_required_export": _("Synchronization required: export control"),
    "device.sync_required_dlc": _("Synchronization required: Device Led Conversion"),
    "device.export_keys_consumed": _("Export-controlled licenses assigned"),
    "device.export_keys_returned": _("Export-controlled licenses returned"),
    "device.export_not_available": _("Export-controlled licenses not available"),
    "device.dlc_complete": _("Conversion successful"),
    "device.dlc_failed": _("Conversion failed"),
    "device.registration_limited_token": _("Registration limit reached (token)"),
    "device.registration_limited_va": _("Registration limit reached (virtual account)"),
    "device.reregistration_refused": _("Re-registration refused"),
    "device.third_party_keys": _("Third party keys received"),
    "device.move_refused": _("Product instance move refused"),
    "device.usage_refused": _("Implausible usage refused"),
    "security.account_settings_changed": _("Security account settings changed"),
    "security.password_settings_changed": _("Password settings changed"),
    "security.user_locked": _("User locked"),
    "security.user_unlocked": _("User unlocked"),
    "security.lock_expired": _("User lock expired"),
    "security.login_refused_locked": _("Login refused: user locked"),
    "security.session_ended": _("Sessions ended by the session limit"),
    "security.password_expired": _("Password expired"),
    "security.login_refused_expired": _("Login refused: password expired"),
    "security.login_refused_web_first": _("Token request refused: web login required first"),
    "security.api_tokens_revoked": _("API tokens revoked"),
    "security.password_expiry_notice": _("Password expiry notice sent"),
    "security.password_reset_requested": _("Password reset link sent"),
    "security.password_reset_done": _("Password reset with a link"),
    "security.host_common_name_changed": _("Host Common Name changed"),
    "security.csr_generated": _("CSR generated"),
    "security.certificate_imported": _("Certificate imported"),
    "security.certificate_reverted": _("Default certificate restored"),
    "preferences.changed": _("Preference changed"),
    "conversion.settings_changed": _("Device Led Conversion settings changed"),
    "conversion.requested": _("Device Led Conversion requested"),
    "custom_tag.created": _("Custom tag created"),
    "custom_tag.updated": _("Custom tag updated"),
    "custom_tag.deleted": _("Custom tag deleted"),
    "license_tag.added": _("License tags added"),
    "license_tag.removed": _("License tags removed"),
    "license_tag.renamed": _("License tag renamed"),
    "license_tag.deleted": _("License tag deleted"),
    "alert.sync_overdue_minor": _("Synchronization overdue (local account)"),
    "alert.sync_overdue": _("Synchronization overdue"),
    "alert.reregistration_required": _("Re-registration required"),
    "alert.agreement_updated": _("Smart License Agreement updated"),
    "alert.agreement_pending": _("Smart Licensing Agreement pending"),
    "agreement.accepted": _("Smart Licensing Agreement accepted"),
    "alert.onprem_removed": _("SSM On-Prem unregistered and removed"),
    "alert.authorization_pending": _("Authorization pending"),
    "alert.authorization_ready": _("Authorization File ready"),
    "alert.sync_deadline": _("Synchronization deadline approaching"),
    "alert.onprem_expired": _("SSM On-Prem expired and removed"),
    "alert.version_note": _("Version compatibility note"),
    "alert.cssm_cleared": _("CSSM alert cleared"),
    "group.message_sent": _("Message sent to a user group"),
    "pi.usage_sync_requested": _("Usage reports queued for synchronization"),
    "sync.registered": _("Registered with CSSM"),
    "sync.registration_file": _("Registration file generated"),
    "sync.reregistration_file": _("Re-registration file generated"),
    "sync.reregistered": _("Re-registered with CSSM"),
    "sync.registration_failed": _("Registration with CSSM failed"),
    "sync.succeeded": _("Synchronization successful"),
    "sync.failed": _("Synchronization failed"),
    "sync.request_file": _("Synchronization request file generated"),
    "sync.entitlements_failed": _("Entitlements failed to synchronize"),
    "sync.onprem_renamed": _("SSM On-Prem renamed by CSSM"),
    "sync.third_party_keys": _("Third party keys granted by CSSM"),
    "sync.settings_changed": _("Synchronization settings changed"),
    "sync.account_settings_changed": _("Synchronization settings of a local account changed"),
    "license.upgrade": _("License upgrade"),
    "license.upgrade_completed": _("License upgrade completed"),
    "license.upgrade_withdrawn": _("License upgrade withdrawn"),
    "license.ported": _("Licenses ported"),
    "license.port_refused": _("License port refused by CSSM"),
    "sync.portable_licenses": _("Portable licenses changed by CSSM"),
    "license.assignment_copied": _("Licenses copied to a virtual account"),
    "license.assignment_removed": _("License copy removed from a virtual account"),
    "license.added_manually": _("Licenses added by a System Admin"),
    "license.removed_manually": _("Licenses removed by a System Admin"),
}
TITLES.update({code: title for family, title in _FAMILIES.items() for code in CATALOGUE if code.startswith(family)})


def title_of(code):
    """The name an administrator reads for ``code``: the catalogue's, or a readable stand-in for a
    code no longer (or not yet) in the catalogue, never the bare code."""
    event_type = CATALOGUE.get(code)
    return event_type.title if event_type else EventType(code, INFO, "").title


def same_kind(code):
    """Every catalogued code that shares ``code``'s name: what the Event Type filter matches."""
    title = TITLES.get(code)
    if title is None:
        return [code]
    # The shortest code first: the family's own name (``license.transferred``) stands for it.
    return sorted((other for other in CATALOGUE if TITLES.get(other) is title), key=lambda other: (len(other), other))


def kinds(codes=None):
    """(code, name) per distinct event type name, sorted by the name in the active language: the
    Event Type filter's choices. ``codes`` limits them to those codes' kinds."""
    seen, choices = set(), []
    for code in CATALOGUE if codes is None else codes:
        key = id(TITLES.get(code)) if code in TITLES else code
        if key in seen:
            continue
        seen.add(key)
        representative = same_kind(code)[0]
        choices.append((representative, str(title_of(representative))))
    return sorted(choices, key=lambda choice: choice[1].casefold())
