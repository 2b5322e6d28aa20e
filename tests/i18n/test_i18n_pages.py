"""Users see the Licensing and Administration workspaces in their own language; signed-out pages
use the system default language."""

import pytest

from accounts.roles import AccountRole, SystemRole

# Strings each page is known to show, in the language of the user who looks at it.
EXPECTED = {
    "ja": {
        "licensing": ["インベントリ", "アラート", "レポート", "アカウントの管理", "ログアウト"],
        "admin": ["管理ワークスペース", "ユーザー", "セキュリティ", "サポートセンター", "ログアウト"],
        "login": ["ログイン", "ユーザー名", "パスワード"],
    },
    "zh-hans": {
        "licensing": ["库存", "警报", "报告", "管理帐户", "注销"],
        "admin": ["管理工作区", "用户", "安全", "支持中心", "注销"],
        "login": ["登录", "用户名", "密码"],
    },
    "ko": {
        "licensing": ["인벤토리", "알림", "보고서", "어카운트 관리", "로그아웃"],
        "admin": ["관리 작업 공간", "사용자", "보안", "지원 센터", "로그아웃"],
        "login": ["로그인", "사용자 이름", "비밀번호"],
    },
}
ENGLISH = {
    "licensing": ["Inventory", "Log Out", "Manage Account"],
    "admin": ["Administration Workspace", "Log Out"],
    "login": ["Log In", "Username"],
}
LANGUAGES = sorted(EXPECTED)


def page(client, url):
    response = client.get(url, follow=True)
    assert response.status_code == 200
    return response


@pytest.fixture
def account(make_account):
    return make_account("Acme")


def account_admin(make_user, account, language):
    from accounts.services.grants import set_account_role

    user = make_user(f"admin-{language}", SystemRole.USER, language=language)
    set_account_role(actor=None, account=account, role=AccountRole.ACCOUNT_ADMIN, user=user)
    return user


@pytest.mark.parametrize("language", LANGUAGES)
def test_licensing_workspace_in_the_users_language(client, make_user, account, language):
    client.force_login(account_admin(make_user, account, language))
    response = page(client, "/")
    html = response.content.decode()
    assert response.headers["Content-Language"] == language
    assert f'<html lang="{language}">' in html
    for text in EXPECTED[language]["licensing"]:
        assert text in html, text
    for text in ENGLISH["licensing"]:
        assert f">{text}<" not in html, text


@pytest.mark.parametrize("language", LANGUAGES)
def test_administration_workspace_in_the_users_language(client, make_user, language):
    client.force_login(make_user(f"sysadmin-{language}", SystemRole.ADMIN, language=language))
    html = page(client, "/admin/").content.decode()
    for text in EXPECTED[language]["admin"]:
        assert text in html, text
    for text in ENGLISH["admin"]:
        assert text not in html, text


def test_each_user_keeps_their_own_language(client, make_user, account):
    """Two users in a row on one server thread: the first one's language must not leak."""
    client.force_login(account_admin(make_user, account, "ja"))
    assert "インベントリ" in page(client, "/").content.decode()
    client.logout()
    client.force_login(account_admin(make_user, account, "en"))
    html = page(client, "/").content.decode()
    assert "Inventory" in html and "インベントリ" not in html


def set_default_language(code):
    from core import system_settings

    system_settings.update("language", actor=None, default_language=code)


@pytest.mark.parametrize("language", LANGUAGES)
def test_login_page_in_the_system_default_language(client, db, language):
    html = page(client, "/login/").content.decode()
    assert "Log In" in html
    set_default_language(language)
    html = page(client, "/login/").content.decode()
    for text in EXPECTED[language]["login"]:
        assert text in html, text
    assert "Log In" not in html


def test_signed_in_user_keeps_their_language_whatever_the_default(client, make_user, account):
    set_default_language("ko")
    client.force_login(account_admin(make_user, account, "en"))
    html = page(client, "/").content.decode()
    assert "Inventory" in html and "인벤토리" not in html
