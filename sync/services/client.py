"""The HTTPS client to CSSM: posts a request document, returns the response document's bytes.

Goes through the Network widget's HTTPS proxy when one is configured ("Proxy settings only
affect communication to Cisco during account registration and synchronization"). The server
certificate is always verified: against ``ONPREM_CSSM_CA_FILE`` when set (the emulator's
self-signed certificate), else the system's trust store. Verification is never turned off.
"""

import requests
from django.conf import settings

from core.system_settings import proxy_url

from .common import cssm_url

REGISTER_PATH = "/api/onprem/register"
SYNC_PATH = "/api/onprem/sync"
REGISTRATION_STATUS_PATH = "/api/onprem/registration-status"


class CssmUnavailable(Exception):
    """CSSM could not be reached or refused the request; ``message`` is for the user."""

    def __init__(self, message, *, status=None, code=""):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def _verify():
    return settings.ONPREM_CSSM_CA_FILE or True


def post_document(path, text, *, credentials=None):
    response = _call(
        "post",
        path,
        data=text.encode("utf-8"),
        headers={"Content-Type": "application/yaml; charset=utf-8"},
        auth=credentials,
    )
    return response.content


def registration_status(request_id, uid):
    """Whether CSSM has generated the Authorization File of the manual registration ``request_id``:
    "ready" or "pending" (raises CssmUnavailable when CSSM cannot say)."""
    response = _call("get", REGISTRATION_STATUS_PATH, params={"request_id": request_id, "uid": uid})
    try:
        status = response.json().get("status")
    except (ValueError, AttributeError):
        status = None
    if status not in ("ready", "pending"):
        raise CssmUnavailable("Cisco Smart Software Manager did not say whether the Authorization File is ready.")
    return status


def _call(method, path, **kwargs):
    url = cssm_url() + path
    try:
        response = requests.request(
            method,
            url,
            timeout=settings.ONPREM_CSSM_TIMEOUT,
            verify=_verify(),
            proxies=proxy_url(),
            **kwargs,
        )
    except requests.exceptions.SSLError as exc:
        raise CssmUnavailable(
            f"The certificate of Cisco Smart Software Manager at {url} could not be verified "
            f"({exc.__class__.__name__})."
        ) from None
    except requests.exceptions.RequestException as exc:
        raise CssmUnavailable(
            f"Cisco Smart Software Manager at {url} cannot be reached ({exc.__class__.__name__})."
        ) from None
    if response.status_code != 200:
        message, code = f"Cisco Smart Software Manager answered HTTP {response.status_code}.", ""
        try:
            body = response.json()
            message, code = str(body.get("message") or message)[:1000], str(body.get("code") or "")
        except (ValueError, AttributeError):
            pass
        raise CssmUnavailable(message, status=response.status_code, code=code)
    return response
