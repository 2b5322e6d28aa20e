"""Counters of failed credential checks, for ``accounts/services/ratelimit.py``.

Kept in the database rather than the cache: every process of a deployment shares it (SQLite
in the embedded mode, PostgreSQL in production), increments are atomic (``F() + 1``), and a
test's counts roll back with its transaction instead of leaking into the next test through a
shared file cache. Rows of past windows are deleted as new failures are counted.
"""

from django.db import models


class FailureCounter(models.Model):
    scope = models.CharField(max_length=16)  # "login", "token"
    key_hash = models.CharField(max_length=64)  # sha256 of "ip:..." / "id:..." (no typed names stored)
    window_start = models.BigIntegerField()  # Unix time the fixed window began
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key_hash", "window_start"], name="failure_counter_once"),
        ]
        indexes = [models.Index(fields=["window_start"], name="failure_counter_window")]

    def __str__(self):
        return f"{self.scope} {self.key_hash[:8]} @ {self.window_start}: {self.count}"
