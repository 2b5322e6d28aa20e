"""Secrets out of every log line: one ``logging.Filter`` on every handler.

Operators read the log files in the Support Center, so a secret in a log line is a secret handed
to everyone who may read logs. The filter sits on the handlers, not on loggers, so it sees the
records of every logger that reaches a file or the console, not only the project's own. Where it
is installed and what it replaces with ``[REDACTED]``: docs/operations-widgets.md, "No secret
reaches these files"; the patterns are below.
"""

import logging
import re

REDACTED = "[REDACTED]"
_SECRET_NAME = r"[A-Za-z0-9_-]*(?:token|secret|password|passwd|authorization)"

_PATTERNS = [
    # /password/reset/<uidb64>/<token>/: the token, but not the form's own "set-password" step.
    (re.compile(r"(/reset/[^/\s?#\"']+/)(?!set-password\b)([^/\s?#\"']+)"), rf"\1{REDACTED}"),
    # name=value in a query string or a form body.
    (re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_SECRET_NAME})=([^&\s\"'<>,;)]+)"), rf"\1={REDACTED}"),
    # "name": "value" / 'name': 'value' (JSON, a dict's repr; an escaped quote stays inside).
    (re.compile(rf"(?i)([\"'])({_SECRET_NAME})\1(\s*:\s*)([\"'])(?:\\.|(?!\4).)*\4"), rf"\1\2\1\3\4{REDACTED}\4"),
    # Authorization: Bearer <token> / Basic <base64 of id:secret> (16 characters at least, so the
    # words of a sentence such as "Basic authentication failed" stay).
    (re.compile(r"(?i)\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]{16,}=*"), rf"\1\2{REDACTED}"),
]


def scrub(text):
    """``text`` with every secret the patterns know replaced by ``[REDACTED]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ScrubSecretsFilter(logging.Filter):
    """Rewrites a record so no formatter can render a secret; never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record):
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            # Rendered once here and scrubbed; with exc_info gone every formatter prints this text
            # (logging.Formatter appends exc_text) instead of rendering the exception again.
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def attach(*loggers):
    """Put the filter on every handler of ``loggers`` that lacks it (configs made by others:
    gunicorn's own handlers, Celery's)."""
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(existing, ScrubSecretsFilter) for existing in handler.filters):
                handler.addFilter(ScrubSecretsFilter())
