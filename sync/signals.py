"""Keep the synchronization's periodic tasks in django-celery-beat's schedule (editable at run time:
created once, never overwritten, so an administrator's change to an interval survives a migrate)."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from core.periodic_tasks import keep_periodic_task

DAY_SECONDS = 24 * 3600
# A manual registration's Authorization File: asked for every quarter of an hour while one waits
# (one small GET per waiting account; none when nothing waits).
AUTHORIZATION_CHECK_SECONDS = 15 * 60


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "name", None) != "sync":
        return
    for name, task, every in (
        ("Scheduled synchronization with CSSM", "sync.run_scheduled", settings.ONPREM_SYNC_CHECK_SECONDS),
        ("Synchronization overdue alerts", "sync.check_overdue", DAY_SECONDS),
        ("Authorization File status", "sync.check_authorization_files", AUTHORIZATION_CHECK_SECONDS),
        ("Purge expired device nonces", "sync.purge_expired_nonces", DAY_SECONDS),
    ):
        keep_periodic_task(name, task, every=every)
