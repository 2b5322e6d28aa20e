"""Every main page of both workspaces, in Japanese, Simplified Chinese and Korean, shows no English
left over: signed in as a System Admin over the demo data (licensing.demo.seed_demo), each page's
visible text (and its placeholder / title / aria-label attributes) may hold no catalogue msgid
in English where the catalogue has a translation, and none of the words an administrator would
see untranslated (status badges, license types, roles, actions). Product names and user data
(account, virtual account, license, product instance, user names) are left out first."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model

from accounts.roles import SystemRole
from core.events import record
from tests.i18n.i18n_po import CATALOGUES, parse_po, po_path

LANGUAGES = {language: directory for directory, language in CATALOGUES.items()}

# Words a page shows from the code, never typed by a user: each must reach the reader translated.
ENGLISH_WORDS = [
    "Prepaid",
    "Perpetual",
    "Term",
    "Demo",
    "Active",
    "Expired",
    "Expiring",
    "Inactive",
    "System Admin",
    "System Operator",
    "Account Admin",
    "Account User",
    "Virtual Account Admin",
    "Virtual Account User",
    "Transfer",
    "Remove",
    "Available",
    "In Use",
    "Balance",
    "Purchased",
    "Reserved",
    "Subscription",
    "Pending",
    "Approved",
    "Rejected",
    "Enabled",
    "Disabled",
    "Yes",
    "No",
    "None",
    "Never",
    "Unknown",
    "Default",
    "Insufficient",
    "Surplus",
    "Out Of Compliance",
    "Out of Compliance",
    "Licenses",
    "License",
    "Product Instances",
    "Virtual Account",
    "Local Account",
    "Users",
    "Actions",
    "Search",
    "Filter",
    "Save",
    "Cancel",
    "Export",
    "INFO",
    "WARN",
    "ALERT",
]
# Text that stays as it is in every language (product and protocol names, units, the guide's
# fixed tokens); matched as whole words and removed before the checks.
KEEP = [
    "Smart Software Manager On-Prem",
    "Smart Software Manager",
    "SSM On-Prem",
    "On-Prem",
    "Cisco",
    "CSSM",
    "Smart Account",
    "Smart Licensing Using Policy",
    "Smart Licensing",
    "Device Led Conversion",
    "LDAP",
    "OAuth2 ADFS",
    "ADFS",
    "SSO",
    "CSR",
    "PEM",
    "SKU",
    "UDI",
    "PID",
    "API",
    "CSV",
    "HTTPS",
    "HTTP",
    "TLS",
    "NTP",
    "SMTP",
    "Syslog",
    "IPv4",
    "IPv6",
    "DNS",
    "UTC",
    "ID",
    "Celery",
    "Redis",
    "PostgreSQL",
    "SQLite",
]
ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class _Visible(HTMLParser):
    """The strings a reader sees: text nodes outside script/style, and the labelling attributes."""

    def __init__(self):
        super().__init__()
        self.strings, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._skip += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self.strings.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skip:
            self.strings.append(text)


def visible(html):
    parser = _Visible()
    parser.feed(html)
    return parser.strings


def translated_msgids(directory):
    """The catalogue's msgids that have a translation different from themselves (and are words)."""
    return {
        entry.msgid
        for entry in parse_po(po_path(directory))
        if entry.msgid and entry.msgstr and entry.msgstr != entry.msgid and re.search(r"[A-Za-z]{2}", entry.msgid)
    }


def user_data():
    """Names the data holds (typed by people or sent by devices), and the event and alert messages
    (recorded in English when they happened, like syslog lines): left out of the checks."""
    from core.models import Event
    from licensing.models import Alert, LicenseDefinition, LocalAccount, ProductInstance, VirtualAccount

    names = set(get_user_model().objects.values_list("username", flat=True))
    names |= set(get_user_model().objects.values_list("description", flat=True))
    names |= set(Event.objects.values_list("message", flat=True))
    names |= set(Alert.objects.values_list("message", flat=True))
    names |= set(LocalAccount.objects.values_list("name", flat=True))
    names |= set(LocalAccount.objects.values_list("description", flat=True))
    names |= set(VirtualAccount.objects.values_list("name", flat=True))
    names |= set(VirtualAccount.objects.values_list("description", flat=True))
    for field in ("name", "product_family", "description", "entitlement_tag"):
        names |= set(LicenseDefinition.objects.values_list(field, flat=True))
    for field in ("hostname", "product_name", "udi_pid", "udi_serial_number"):
        names |= set(ProductInstance.objects.values_list(field, flat=True))
    return sorted((name for name in names if name), key=len, reverse=True)


def _words(text, words):
    return [word for word in words if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)]


@pytest.fixture
def demo(db):
    from licensing.demo import seed_demo

    result = seed_demo(name="Acme Networks", product_instances=30, with_users=True)
    # One event of each severity, so the event logs show their badges.
    record("security.password_settings_changed", user_name="demo-admin")
    record("auth.login_failed", user_name="demo-va-user")
    return result


def main_pages(result):
    account = result.account
    va = result.virtual_accounts[0]
    lic = next(iter(result.licenses.values()))
    from licensing.models import ProductInstance

    pi = ProductInstance.objects.filter(virtual_account__account=account).order_by("pk").first()
    base = f"/accounts/{account.pk}"
    pages = [
        f"{base}/alerts/",
        f"{base}/inventory/",
        f"{base}/inventory/licenses/",
        f"{base}/inventory/product-instances/",
        f"{base}/inventory/virtual-accounts/{va.pk}/licenses/{lic.pk}/",
        f"{base}/inventory/virtual-accounts/{va.pk}/licenses/{lic.pk}/?tab=product_instances",
        f"{base}/inventory/virtual-accounts/{va.pk}/licenses/{lic.pk}/?tab=event_log",
        f"{base}/inventory/virtual-accounts/{va.pk}/licenses/{lic.pk}/?tab=transactions",
        f"{base}/conversion/",
        f"{base}/reports/",
        f"{base}/activity/",
        f"{base}/activity/event-log/",
        f"{base}/preferences/",
        f"{base}/manage/general/",
        f"{base}/manage/virtual-accounts/",
        f"{base}/manage/users/",
        f"{base}/manage/user-groups/",
        f"{base}/manage/access-requests/",
        f"{base}/manage/custom-tags/",
        f"{base}/manage/event-log/",
        "/admin/",
        "/admin/users/",
        "/admin/accounts/",
        "/admin/accounts/requests/",
        "/admin/accounts/events/",
        "/admin/sync/",
        "/admin/sync/history/",
        "/admin/access/",
        "/admin/settings/",
        "/admin/security/",
        "/admin/security/password/",
        "/admin/security/certificates/",
        "/admin/security/events/",
        "/admin/network/",
        "/admin/support/",
    ]
    pages.insert(5, f"{base}/inventory/product-instances/{pi.pk}/")
    pages.insert(6, f"{base}/inventory/product-instances/{pi.pk}/?tab=event_log")
    return pages


def leftovers(html, msgids, data):
    """(untranslated msgids, English words) found on a page."""
    msgid_hits, word_hits = set(), set()
    for text in visible(html):
        original = " ".join(text.split())
        if original in msgids and original not in data:  # a virtual account named “Default”
            msgid_hits.add(original)
        for name in data:
            text = text.replace(name, " ")
        for word in KEEP:
            text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", " ", text)
        text = " ".join(text.split())
        if not re.search(r"[A-Za-z]{2}", text):
            continue
        if text in msgids:
            msgid_hits.add(text)
        word_hits.update(_words(text, ENGLISH_WORDS))
    return msgid_hits, word_hits


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_main_page_is_in_the_users_language(client, make_user, demo, language):
    admin = make_user(f"sysadmin-{language}", SystemRole.ADMIN, language=language)
    client.force_login(admin)
    msgids = translated_msgids(LANGUAGES[language])
    data = user_data()
    found = {}
    for url in main_pages(demo):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert response.headers["Content-Language"] == language, url
        msgid_hits, word_hits = leftovers(response.content.decode(), msgids, data)
        if msgid_hits or word_hits:
            found[url] = sorted(msgid_hits | word_hits)
    assert found == {}, "\n".join(f"{url}: {hits}" for url, hits in found.items())


# Actions shown side by side on one page (the account picker's Go next to Show and Transfer, the
# pagination next to Transfer, Revoke next to a dialog's Cancel): each needs a word of its own.
SAME_PAGE_ACTIONS = [
    ("Go", "Transfer"),
    ("Go", "Show"),
    ("Transfer", "Previous"),
    ("Transfer", "Remove"),
    ("Revoke", "Cancel"),
    ("Revoke", "Remove"),
    ("Previous", "Next"),
    ("Dismiss", "Remind Later"),
]


@pytest.mark.parametrize("directory", sorted(CATALOGUES))
def test_two_actions_on_one_page_never_share_a_word(directory):
    translations = {entry.msgid: entry.msgstr for entry in parse_po(po_path(directory)) if not entry.msgctxt}
    same = [(a, b, translations[a]) for a, b in SAME_PAGE_ACTIONS if translations.get(a) == translations.get(b)]
    assert same == []
