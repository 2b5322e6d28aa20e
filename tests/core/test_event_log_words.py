"""Every page that shows an event log names event types in words: with one event of every
catalogued code recorded, no page shows a code (``security.user_unlocked``), and each Event Type
filter lists names (no message template with placeholders or "…"), sorted, in the reader's language."""

import re
import string
from html.parser import HTMLParser

import pytest
from django.utils import translation

from core import events
from core.events.messages import CATALOGUE, TITLES, kinds, same_kind
from core.models import Event

pytestmark = pytest.mark.django_db

NAME = "Acme Tag"
WORD_CODE = re.compile(r"\b[a-z_]+\.[a-z_]+\b")
PLACEHOLDER = re.compile(r"%\(|\{[a-z_]*\}|…")


class _Text(HTMLParser):
    """The text a reader sees (script and style left out), and the Event Type <select>'s options."""

    def __init__(self):
        super().__init__()
        self.text, self.options, self._skip, self._select, self._option = [], [], 0, False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "select" and attrs.get("name") == "event_type":
            self._select = True
        elif tag == "option" and self._select:
            self._option = [attrs.get("value", ""), ""]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "select":
            self._select = False
        elif tag == "option" and self._option is not None:
            self.options.append((self._option[0], self._option[1].strip()))
            self._option = None

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data
        if not self._skip:
            self.text.append(data)


def read(html):
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.text), parser.options


def raw_codes(text):
    return sorted({word for word in WORD_CODE.findall(text) if word in CATALOGUE})


@pytest.fixture
def every_event(acme, default_va, license_def, add_line, add_pi):
    """One event of each catalogued code in Acme's Default virtual account, every placeholder
    filled with the license's name (so the license's own Event Log tab shows them too)."""
    lic = license_def(NAME)
    add_line(default_va, lic, 5)
    pi = add_pi(default_va, "SN1", hostname=NAME)
    Event.objects.all().delete()
    for code, event_type in CATALOGUE.items():
        fields = {field for _text, field, _spec, _conv in string.Formatter().parse(event_type.text) if field}
        events.record(code, virtual_account=default_va, **dict.fromkeys(fields, NAME))
    return {"license": lic, "pi": pi, "va": default_va}


def pages(acme, every_event):
    va, lic, pi = every_event["va"], every_event["license"], every_event["pi"]
    account = f"/accounts/{acme.pk}"
    return {
        "security widget": ("/admin/security/events/", True),
        "accounts widget": ("/admin/accounts/events/", True),
        "system health": ("/admin/", False),
        "manage account event log": (f"{account}/manage/event-log/", True),
        "activity event log": (f"{account}/activity/event-log/", True),
        # License Transactions lists license lines, not events: no Event Type filter.
        "activity transactions": (f"{account}/activity/", False),
        "inventory event log": (f"{account}/inventory/event-log/?va={va.pk}", True),
        "license event log": (
            f"{account}/inventory/virtual-accounts/{va.pk}/licenses/{lic.pk}/?tab=event_log",
            False,
        ),
        "product instance event log": (f"{account}/inventory/product-instances/{pi.pk}/?tab=event_log", False),
    }


def every_page_of(client, url):
    """The text of each page of a paginated listing, the first page's filter options."""
    texts, options = [], None
    for number in range(1, 20):
        separator = "&" if "?" in url else "?"
        response = client.get(f"{url}{separator}page={number}")
        assert response.status_code == 200, url
        text, found = read(response.content.decode())
        if texts and text == texts[-1]:
            break  # past the last page: the listing shows the last one again
        texts.append(text)
        options = found if options is None else options
    return " ".join(texts), options


@pytest.mark.parametrize("language", ["en", "ja"])
def test_no_event_log_shows_a_code_or_a_template(client, make_user, acme, every_event, language):
    from accounts.roles import SystemRole

    client.force_login(make_user(f"sysadmin-{language}", SystemRole.ADMIN, language=language))
    with translation.override(language):
        names = {code: str(TITLES[code]) for code in CATALOGUE}
    for page, (url, has_filter) in pages(acme, every_event).items():
        text, options = every_page_of(client, url)
        assert raw_codes(text) == [], f"{page} shows event codes"
        assert "{" not in text.replace("{}", "") and "%(" not in text, f"{page} shows a template"
        if not has_filter:
            continue
        if "Event Type" in text or "イベントタイプ" in text:
            assert options, f"{page} has no Event Type filter"
        labels = [label for value, label in options if value]
        assert labels, page
        for label in labels:
            assert not PLACEHOLDER.search(label), f"{page} filter lists a template: {label}"
            assert not raw_codes(label), f"{page} filter lists a code: {label}"
        assert labels == sorted(labels, key=str.casefold), f"{page}: the filter is not sorted"
        assert len(labels) == len(set(labels)), f"{page}: the filter lists a name twice"
        assert set(labels) <= set(names.values()), f"{page}: a filter label is not an event type name"


def test_the_security_and_accounts_logs_name_each_type(admin_client, acme, every_event):
    security, _ = every_page_of(admin_client, "/admin/security/events/")
    accounts, _ = every_page_of(admin_client, "/admin/accounts/events/")
    for code in CATALOGUE:
        if code.startswith(("security.", "auth.")):
            assert str(TITLES[code]) in security, code
        assert str(TITLES[code]) in accounts, code
    assert "User unlocked" in security and "security.user_unlocked" not in security


def test_every_code_has_a_name_of_its_own_kind():
    assert set(TITLES) >= set(CATALOGUE), sorted(set(CATALOGUE) - set(TITLES))
    names = [str(TITLES[code]) for code in CATALOGUE]
    # One name per kind: two different kinds never share a name (the filter could not tell them apart).
    for code in CATALOGUE:
        assert all(str(TITLES[other]) == str(TITLES[code]) for other in same_kind(code))
    assert len({str(TITLES[codes]) for codes, _ in kinds()}) == len(kinds()) == len(set(names))


def test_the_filter_matches_every_variant_of_a_kind(admin_client, acme, every_event):
    response = admin_client.get(f"/accounts/{acme.pk}/manage/event-log/?event_type=license.transferred")
    text, options = read(response.content.decode())
    assert ("license.transferred", "Licenses transferred") in options
    shown = Event.objects.filter(event_type__in=same_kind("license.transferred")).count()
    assert shown == 8
    assert text.count("transferred") >= shown


def test_each_kind_is_translated_in_every_language():
    with translation.override("en"):
        english = {code: str(TITLES[code]) for code in CATALOGUE}
    for language in ("ja", "zh-hans", "ko"):
        with translation.override(language):
            untranslated = [code for code in CATALOGUE if str(TITLES[code]) == english[code]]
        assert untranslated == [], language


def test_messages_are_recorded_in_english_whatever_the_actors_language(acme, default_va, make_user):
    """Role labels are translated for pages; the stored message (syslog, CSV, API) stays English."""
    from accounts.roles import AccountRole
    from accounts.services.grants import set_account_role, set_virtual_account_role

    user = make_user("kenji", language="ja")
    with translation.override("ja"):
        set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_USER, user=user)
        set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_USER, user=user)
        assert str(AccountRole.VA_USER.label) != "Virtual Account User"
    messages = list(Event.objects.filter(event_type="user.role_added").values_list("message", flat=True))
    assert "The user “kenji” was assigned the role “Account User”." in messages
    assert "The user “kenji” was assigned the role “Virtual Account User (Default)”." in messages
