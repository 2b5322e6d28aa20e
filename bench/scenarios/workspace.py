"""Licensing workspace pages (licenses, product instances) for the seeded account, signed in as
its Account Admin: client latency and the server's own time (gunicorn's access log), one client."""

import re

import requests

from ..load import Request, run_load
from .api import _ms_summary

PAGES = {"licenses": "licenses/", "product_instances": "product-instances/"}


def login(server, username, password):
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.cert)
    page = session.get(f"{server.url}/login/", timeout=60)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    reply = session.post(
        f"{server.url}/login/",
        timeout=60,
        headers={"Referer": f"{server.url}/login/"},
        data={"csrfmiddlewaretoken": csrf, "username": username, "password": password},
    )
    if not reply.history:
        raise RuntimeError(f"signing in as {username} failed: {reply.status_code}")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def run(server, seeded, *, requests_per_page):
    cookie = login(server, seeded["username"], seeded["password"])
    base = f"/accounts/{seeded['account_id']}/inventory/"
    pis_pages = max(1, seeded["product_instances"] // 50)
    rows = {}
    for name, path in PAGES.items():

        def make(i, name=name, path=path):
            query = f"?page={1 + i * 7919 % pis_pages}" if name == "product_instances" else ""
            return Request(
                "GET", base + path + query, headers={"Cookie": cookie, "X-Request-ID": f"bench-ws-{name}-{i}"}
            )

        result = run_load(
            server.url,
            make,
            concurrency=1,
            requests=requests_per_page,
            ca_file=str(server.cert),
            check=lambda status, body: status == 200 and b"<html" in body[:2000].lower(),
        )
        result["server_ms"] = _ms_summary(server.access_times(f"bench-ws-{name}-"))
        rows[name] = result
    return rows
