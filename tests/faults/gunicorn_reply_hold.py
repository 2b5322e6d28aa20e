"""TEST-ONLY gunicorn configuration: hold a device reply after the server committed, before any byte
of it is written, so that a fault test can kill the worker at exactly that moment.

Used by tests/faults/test_usage_ingest_kill.py and nothing else. The test loads it into the web
server it starts, and only there, through gunicorn's own environment variable::

    GUNICORN_CMD_ARGS="--config tests/faults/gunicorn_reply_hold.py"  ONPREM_FAULTS_HOLD_DIR=/tmp/...

(``manage.py serve`` passes its environment to gunicorn and then leaves its own configuration,
onprem/gunicorn_conf.py, out; its one setting is imported below, so nothing else changes.) It is
inert unless both are set, and even then until the test
writes an ``arm`` file into the hold directory naming the reply type to hold, e.g.
``REPORT_USAGE_RESPONSE``. The first worker whose reply has that type claims the file (an atomic
rename, so exactly one reply is held), writes ``held.json`` (its pid, the reply's bytes) and
sleeps instead of answering; the test then kills it with SIGKILL. A hold the test forgets ends
after HOLD_SECONDS and the reply goes out as usual.

Why here and not in the code: the moment "after the transaction committed, before the reply
reaches the device" lies between Django returning the response (the view and its
``transaction.atomic`` block are done) and gunicorn writing it; a WSGI wrapper put in place by the
``post_worker_init`` server hook sits exactly there, without a fault hook in the product.
"""

import json
import os
import time
from pathlib import Path

from onprem.gunicorn_conf import ssl_context  # noqa: F401 - the production server's TLS contexts

HOLD_SECONDS = 25  # below gunicorn's worker timeout (30 s): the master never kills a held worker first


def post_worker_init(worker):
    hold_dir = os.environ.get("ONPREM_FAULTS_HOLD_DIR")
    if hold_dir:
        worker.wsgi = _holding(worker.wsgi, Path(hold_dir))


class _Reply:
    """The response's bytes, already read, still closing the original response (request_finished)."""

    def __init__(self, chunks, original):
        self.chunks, self.original = chunks, original

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        close = getattr(self.original, "close", None)
        if close is not None:
            close()


def _holding(app, hold_dir):
    def application(environ, start_response):
        result = app(environ, start_response)  # Django is done: the message's transaction is committed
        arm = hold_dir / "arm"
        if environ.get("REQUEST_METHOD") != "POST" or not arm.exists():
            return result
        chunks = list(result)
        body = b"".join(chunks)
        try:
            wanted = arm.read_text().strip()
        except OSError:
            return _Reply(chunks, result)
        if f'"type":"{wanted}"'.encode() not in body:
            return _Reply(chunks, result)
        claimed = hold_dir / f"claimed.{os.getpid()}"
        try:
            os.rename(arm, claimed)  # one reply only, whichever worker gets here first
        except OSError:
            return _Reply(chunks, result)
        note = hold_dir / "held.json.tmp"
        note.write_text(
            json.dumps({"pid": os.getpid(), "path": environ.get("PATH_INFO"), "reply": body.decode("utf-8", "replace")})
        )
        os.replace(note, hold_dir / "held.json")
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline and not (hold_dir / "release").exists():
            time.sleep(0.05)
        return _Reply(chunks, result)

    return application
