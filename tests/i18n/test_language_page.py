"""The Language page: any signed-in user changes their own UI language; bad input writes nothing."""

import pytest
from django.test import Client

from accounts.roles import SystemRole


@pytest.fixture
def user(make_user):
    return make_user("carol", SystemRole.USER, language="en")


def test_user_menu_links_to_the_language_page(client, user):
    client.force_login(user)
    html = client.get("/", follow=True).content.decode()
    assert 'href="/language/"' in html


def test_shows_the_current_choice(client, user):
    user.language = "ja"
    user.save(update_fields=["language"])
    client.force_login(user)
    response = client.get("/language/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>言語</h1>" in html
    assert html.count("checked") == 1
    assert 'value="ja" required id="id_language_1" checked' in html
    for code in ("en", "ja", "zh-hans", "ko"):
        assert f'value="{code}"' in html


@pytest.mark.parametrize(
    "code, confirmation",
    [
        ("ja", "言語を変更しました。"),
        ("zh-hans", "语言已更改。"),
        ("ko", "언어가 변경되었습니다."),
    ],
)
def test_changes_the_users_language(client, user, code, confirmation):
    client.force_login(user)
    response = client.post("/language/", {"language": code}, follow=True)
    assert response.redirect_chain[0] == ("/language/", 302)
    user.refresh_from_db()
    assert user.language == code
    html = response.content.decode()
    assert confirmation in html
    assert f'<html lang="{code}">' in html


def test_back_to_english(client, user):
    user.language = "ko"
    user.save(update_fields=["language"])
    client.force_login(user)
    response = client.post("/language/", {"language": "en"}, follow=True)
    user.refresh_from_db()
    assert user.language == "en"
    assert "Your language was changed." in response.content.decode()


@pytest.mark.parametrize(
    "data", [{"language": "xx"}, {"language": "fr"}, {"language": ""}, {}, {"language": "ja" * 50}]
)
def test_rejects_an_unknown_code_and_writes_nothing(client, user, data):
    client.force_login(user)
    before = type(user).objects.values().get(pk=user.pk)
    response = client.post("/language/", data)
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert type(user).objects.values().get(pk=user.pk) == before


def test_needs_a_signed_in_user(client, db):
    response = client.get("/language/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    response = client.post("/language/", {"language": "ja"})
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_post_without_csrf_token_is_refused(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post("/language/", {"language": "ja"})
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.language == "en"


def test_other_methods_are_refused(client, user):
    client.force_login(user)
    assert client.put("/language/", {"language": "ja"}).status_code == 405
    user.refresh_from_db()
    assert user.language == "en"


def test_every_role_reaches_the_page(client, make_user):
    for role in (SystemRole.ADMIN, SystemRole.OPERATOR, SystemRole.USER):
        person = make_user(f"p-{role}", role)
        client.force_login(person)
        assert client.post("/language/", {"language": "ja"}).status_code == 302
        person.refresh_from_db()
        assert person.language == "ja"
