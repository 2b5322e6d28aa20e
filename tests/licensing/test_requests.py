"""Request an Account and Request Access to an Existing Account, from the Licensing workspace."""

import pytest

from accounts.roles import AccountRole
from core.models import Event
from licensing.models import AccessRequest, LocalAccount

pytestmark = pytest.mark.django_db

GOOD_ACCOUNT = {
    "email": "carol@example.com",
    "message": "For the lab",
    "name": "Lab",
    "cisco_smart_account": "example.com",
    "cisco_virtual_account": "Lab VA",
}


@pytest.fixture
def carol(make_user):
    return make_user("carol", email="carol@profile.example")


def snapshot():
    return (LocalAccount.objects.count(), AccessRequest.objects.count(), Event.objects.count())


# --- Request an Account -------------------------------------------------------------------


def test_request_account_creates_a_requested_account_and_records_it(carol, browser):
    client = browser(carol)
    assert client.get("/requests/account/").status_code == 200
    response = client.post("/requests/account/", GOOD_ACCOUNT, follow=True)
    account = LocalAccount.objects.get(name="Lab")
    assert account.status == LocalAccount.Status.REQUESTED
    assert (account.requested_by, account.requester_email, account.message_to_creator) == (
        carol,
        "carol@example.com",
        "For the lab",
    )
    assert (account.cisco_smart_account, account.cisco_virtual_account) == ("example.com", "Lab VA")
    assert account.virtual_accounts.get().is_default
    event = Event.objects.get(event_type="account.requested")
    assert event.message == "The user “carol” requested the local account “Lab”." and event.user == carol
    html = response.content.decode()
    assert "Your request for the local account “Lab” was submitted." in html
    # The user sees their own pending request; it is not offered in the picker.
    pending = html.split("Your pending account requests")[1]
    assert "Lab" in pending and "Requested" in pending
    assert '<option value="%d"' % account.pk not in html


def test_request_account_defaults_to_the_profile_email(carol, browser):
    browser(carol).post("/requests/account/", {**GOOD_ACCOUNT, "email": ""})
    assert LocalAccount.objects.get(name="Lab").requester_email == "carol@profile.example"


def test_only_own_pending_requests_are_listed(carol, make_user, browser):
    from licensing.services.accounts import request_account

    other = make_user("dave")
    request_account(actor=other, name="Daves", cisco_smart_account="x", cisco_virtual_account="y")
    html = browser(carol).get("/requests/account/").content.decode()
    assert "Daves" not in html and "You have no pending account requests." in html


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "Ensure this value has at most 100 characters"),
        ({"cisco_smart_account": ""}, "cisco_smart_account", "This field is required."),
        ({"cisco_virtual_account": ""}, "cisco_virtual_account", "This field is required."),
        ({"cisco_virtual_account": "v" * 256}, "cisco_virtual_account", "Ensure this value has at most 255 characters"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"message": "m" * 2001}, "message", "Ensure this value has at most 2000 characters"),
        ({"name": "Acme"}, "name", "A local account named “Acme” already exists."),
    ],
)
def test_request_account_bad_input_writes_nothing(carol, browser, make_account, change, field, message):
    make_account("Acme")
    client = browser(carol)
    before = snapshot()
    response = client.post("/requests/account/", {**GOOD_ACCOUNT, **change})
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert message in response.content.decode()  # shown to the user, beside the field
    assert snapshot() == before


# --- Request Access -----------------------------------------------------------------------


def test_request_access_creates_a_pending_request_and_records_it(carol, browser, make_account):
    acme = make_account("Acme")
    client = browser(carol)
    response = client.post("/requests/access/", {"account_name": "Acme", "company": "Carol Inc"}, follow=True)
    access = AccessRequest.objects.get()
    assert (access.account, access.user, access.company, access.status) == (
        acme,
        carol,
        "Carol Inc",
        AccessRequest.Status.PENDING,
    )
    event = Event.objects.get(event_type="access.requested")
    assert event.account == acme
    assert event.message == "The user “carol” requested access to the local account “Acme”."
    html = response.content.decode()
    assert "Your request for access to “Acme” was submitted." in html
    assert "Carol Inc" in html.split("Your pending access requests")[1]
    # Still no access until someone approves.
    assert client.get(f"/accounts/{acme.pk}/").status_code == 404


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "This field is required."),
        ("Nope", "No active local account is named “Nope”."),
        ("acme", "No active local account is named “acme”."),  # exact name only
        ("Oldco", "No active local account is named “Oldco”."),  # deactivated
        ("n" * 101, "Ensure this value has at most 100 characters"),
    ],
)
def test_request_access_unknown_or_inactive_name_writes_nothing(carol, browser, make_account, name, message):
    from licensing.services.accounts import deactivate_account

    make_account("Acme")
    deactivate_account(actor=None, account=make_account("Oldco"))
    client = browser(carol)
    before = snapshot()
    response = client.post("/requests/access/", {"account_name": name})
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors["account_name"])
    assert snapshot() == before


def test_a_second_pending_request_is_refused(carol, browser, make_account):
    make_account("Acme")
    client = browser(carol)
    client.post("/requests/access/", {"account_name": "Acme"})
    before = snapshot()
    response = client.post("/requests/access/", {"account_name": "Acme", "company": "again"})
    assert response.context["form"].errors["account_name"] == ["Your request for access to “Acme” is already pending."]
    assert snapshot() == before


def test_requesting_access_one_already_has_is_refused(carol, browser, make_account, grant_role):
    acme = make_account("Acme")
    grant_role(carol, acme, AccountRole.ACCOUNT_USER)
    client = browser(carol)
    before = snapshot()
    response = client.post("/requests/access/", {"account_name": "Acme"})
    assert response.context["form"].errors["account_name"] == ["You already have access to the local account “Acme”."]
    assert snapshot() == before


def test_company_over_255_characters_is_refused(carol, browser, make_account):
    make_account("Acme")
    client = browser(carol)
    before = snapshot()
    response = client.post("/requests/access/", {"account_name": "Acme", "company": "c" * 256})
    assert "company" in response.context["form"].errors
    assert snapshot() == before


def test_request_pages_only_answer_get_and_post(carol, browser):
    assert browser(carol).put("/requests/account/").status_code == 405
    assert browser(carol).delete("/requests/access/").status_code == 405
