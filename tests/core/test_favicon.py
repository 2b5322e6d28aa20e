"""Every page names an icon, and /favicon.ico (which browsers ask for anyway) is not a 404."""

import logging


def test_pages_name_the_icon_and_favicon_ico_answers(client, db, caplog):
    page = client.get("/login/").content.decode()
    assert 'rel="icon" href="/static/onprem/favicon.svg"' in page
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/onprem/favicon.svg"
    assert not [r for r in caplog.records if "Not Found" in r.getMessage()]
