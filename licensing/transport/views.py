"""The device endpoints: thin wrappers that read the body within the size limit and run the pipeline.

No session, no CSRF token: a device message is authorized by its token or certificate
signature (docs/rbac.md, "Device channel"), never by a cookie. Over capacity, a message is answered at once
with 503 + Retry-After before any database or signature work, by admission.py's middleware.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.limits import own_request_limit
from core.networks import client_ip
from licensing import metrics

from ..models import DeviceIdentity, LocalAccount
from ..services import cslu_access
from ..services.device_errors import SOURCE_NOT_ALLOWED
from .processing import process, too_large

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


def max_message_bytes():
    return getattr(settings, "ONPREM_DEVICE_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)


def read_body(request):
    """The body, or None when it is over the limit (checked before and while reading)."""
    limit = max_message_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _run(request, **kwargs):
    # Over capacity, the message never got here: admission.DeviceAdmissionMiddleware answered it.
    body = read_body(request)
    if body is None:
        outcome = too_large(max_message_bytes())
        return HttpResponse(
            outcome.body,
            status=outcome.status,
            content_type=f"{outcome.content_type}; charset=utf-8",
            headers=outcome.headers,
        )
    outcome = process(body, **kwargs)
    return HttpResponse(
        outcome.body,
        status=outcome.status,
        content_type=f"{outcome.content_type}; charset=utf-8",
        headers=outcome.headers,
    )


@own_request_limit  # ONPREM_DEVICE_MAX_MESSAGE_BYTES, answered in the protocol's format
@csrf_exempt
@require_POST
def smart_transport(request):
    return _run(request, transport=DeviceIdentity.Transport.SMART_TRANSPORT)


@own_request_limit  # ONPREM_DEVICE_MAX_MESSAGE_BYTES, answered in the protocol's format
@csrf_exempt
@require_POST
def call_home(request):
    return _run(request, transport=DeviceIdentity.Transport.CALL_HOME, allow_xml=True)


@own_request_limit  # ONPREM_DEVICE_MAX_MESSAGE_BYTES, answered in the protocol's format
@csrf_exempt
@require_POST
def cslu_push(request, slug):
    """``/cslu/v1/pi/{LocalAccountName}-{n}``: ``n`` is the local account's id, the name matched exactly.

    A source the Security widget does not accept pushes from is refused first (403, before the
    account is looked up or the message read), so it learns nothing of the accounts either.
    """
    refusal = cslu_access.source_refusal(client_ip(request))
    if refusal is not None:
        read_body(request)  # so that a kept-alive connection stays in step
        metrics.device_message("MESSAGE", SOURCE_NOT_ALLOWED)
        return JsonResponse({"status": "FAILED", "error_code": SOURCE_NOT_ALLOWED, "message": refusal}, status=403)
    name, _, number = slug.rpartition("-")
    account = LocalAccount.objects.filter(pk=int(number)).first() if number.isdigit() and len(number) < 18 else None
    if account is None or account.name != name:
        return JsonResponse(
            {"status": "FAILED", "error_code": "MALFORMED", "message": "No local account answers at this URL."},
            status=404,
        )
    return _run(request, transport=DeviceIdentity.Transport.CSLU, cslu_account=account)
