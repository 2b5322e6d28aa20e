"""Fixed-window limits on failed credential checks (the token endpoint and the sign-in form).

Only failures count: a client that knows its secret or a person who knows their password is
never slowed down, while guessing is, per client id / username and per client IP. Every
attempt first asks ``check`` (refused: 429 / a form error, and no secret or password is even
looked at); a failure is then counted with ``record_failure``.

The counters are rows (``accounts.FailureCounter``), not cache entries: every process of a
deployment shares the database (SQLite embedded, PostgreSQL in production), ``F() + 1``
counts atomically where the file cache's ``incr`` is a read-modify-write, and a test's counts
roll back with it. A failed attempt already writes an event row, so this adds no new kind of
load. Keys are hashed, so what people type is never stored here.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import FailureCounter
from core.networks import client_ip


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window ends (when refused)


def _window():
    window = max(1, settings.ONPREM_RATE_LIMIT_WINDOW_SECONDS)
    now = time.time()
    start = int(now // window) * window
    return window, start, max(1, math.ceil(start + window - now))


def _hashed_keys(request, principal_keys):
    keys = [(f"ip:{client_ip(request)}", settings.ONPREM_RATE_LIMIT_FAILURES_PER_IP)]
    keys += [(f"id:{key}", settings.ONPREM_RATE_LIMIT_FAILURES) for key in principal_keys if key]
    return {hashlib.sha256(key.encode()).hexdigest(): limit for key, limit in keys}


def check(scope, request, *principal_keys):
    """May this attempt go ahead? Refused while the IP or a client id / username is over its limit."""
    _, start, remaining = _window()
    limits = _hashed_keys(request, principal_keys)
    counts = FailureCounter.objects.filter(scope=scope, window_start=start, key_hash__in=list(limits))
    for key_hash, count in counts.values_list("key_hash", "count"):
        if count >= limits[key_hash]:
            return Verdict(False, remaining)
    return Verdict(True)


def record_failure(scope, request, *principal_keys):
    """Count one failed attempt for the client IP and for each client id / username."""
    window, start, _ = _window()
    with transaction.atomic():
        FailureCounter.objects.filter(window_start__lt=start - window).delete()  # past windows
        for key_hash in _hashed_keys(request, principal_keys):
            counted = FailureCounter.objects.filter(scope=scope, key_hash=key_hash, window_start=start)
            if counted.update(count=F("count") + 1):
                continue
            try:
                with transaction.atomic():
                    FailureCounter.objects.create(scope=scope, key_hash=key_hash, window_start=start, count=1)
            except IntegrityError:  # another process created it first: count on its row
                counted.update(count=F("count") + 1)


def normalise(name):
    """Usernames are matched case-insensitively by people; count them so."""
    return (name or "").strip().lower()
