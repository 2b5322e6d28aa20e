"""CSRF on every URL that takes a POST from a browser, and a new session key at login.

The idle timeout and the session limit have their own tests: tests/core/test_login_and_wizard.py
and tests/security/test_security_sessions.py.
"""

import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

# Views that are exempt from CSRF on purpose, each for a reason (docs/rbac.md): the device endpoints
# are authorized by message signatures, the OAuth token endpoint and the REST API by client
# secrets / bearer tokens, never by a session cookie.
EXEMPT = re.compile(r"^/(SmartTransport|Transportgateway/|cslu/|(backend/)?oauth/token|(backend/)?api/v1/)")


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _concrete(route):
    """A path for a route: every converter filled with a plausible value; None for regex routes."""
    if route.startswith("^") or "(?P" in route:
        return None
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<path:\w+>", "x-1", route)
    route = re.sub(r"<(?:slug|str):\w+>|<\w+>", "x", route)
    return "/" + route


def all_paths():
    seen, paths = set(), []
    for route, entry in _walk(get_resolver().url_patterns):
        path = _concrete(route)
        if path is None or path in seen:
            continue
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if match.func is not entry.callback:
            continue  # shadowed by an earlier pattern: that one is checked under its own route
        seen.add(path)
        paths.append((path, entry.callback))
    return paths


def test_the_walk_covers_the_forms():
    paths = {path for path, _view in all_paths()}
    assert len(paths) > 100
    for form in [
        "/login/",
        "/logout/",
        "/admin/security/certificates/import/",
        "/admin/access/ldap/",
        "/accounts/1/manage/user-groups/1/upload/",
        "/admin/settings/x/",
        "/admin/users/create/",
    ]:
        assert form in paths, form


def test_every_post_without_the_csrf_token_is_refused(sysadmin):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/login/")
    assert (
        browser.post(
            "/login/",
            {
                "username": sysadmin.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
            },
        ).status_code
        == 302
    )
    checked, exempt = [], []
    for path, view in all_paths():
        if getattr(view, "csrf_exempt", False):
            exempt.append(path)
            assert EXEMPT.match(path), f"{path} is csrf_exempt without a reason listed in EXEMPT"
            continue
        response = browser.post(path, {"anything": "1"})
        assert response.status_code == 403, path
        assert b"CSRF" in response.content, path  # the CSRF refusal, not an RBAC one
        checked.append(path)
    assert len(checked) > 100 and "/admin/users/create/" in checked
    # Still signed in: the refusals did not log the admin out (so each 403 above was CSRF's).
    assert browser.get("/admin/").status_code == 200
    assert {p for p in exempt if p.startswith("/api/v1/")} and "/SmartTransport" in exempt


def test_the_session_key_changes_at_login(client, sysadmin):
    client.get("/login/")
    session = client.session
    session["planted"] = "by an attacker"  # a session the attacker knows the key of
    session.save()
    client.cookies["onprem_session"] = session.session_key
    before = session.session_key
    response = client.post("/login/", {"username": sysadmin.username, "password": PASSWORD})
    assert response.status_code == 302
    after = client.cookies["onprem_session"].value
    assert after != before
    assert not SessionStore().exists(before)  # the old key is gone, not merely unused
    assert SessionStore(session_key=after).get("_auth_user_id") == str(sysadmin.pk)
    # The attacker's key does not carry the login.
    attacker = Client()
    attacker.cookies["onprem_session"] = before
    assert attacker.get("/admin/").status_code == 302


def test_logout_ends_the_session(client, sysadmin):
    client.post("/login/", {"username": sysadmin.username, "password": PASSWORD})
    key = client.cookies["onprem_session"].value
    assert SessionStore().exists(key)
    client.post("/logout/")
    assert not SessionStore().exists(key)


def test_external_logins_use_djangos_login():
    """LDAP signs in through the same LoginView; ADFS / SSO callbacks call django.contrib.auth.login,
    which cycles the session key the same way (the test above)."""
    from django.contrib.auth.views import LoginView as DjangoLoginView

    import accounts.oidc.views as external
    from accounts.views import LoginView

    assert issubclass(LoginView, DjangoLoginView)
    source = open(external.__file__, encoding="utf-8").read()
    assert re.search(r"^from django\.contrib\.auth import [^\n]*\blogin\b", source, re.MULTILINE)
    assert "login(request, user" in source
