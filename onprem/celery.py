"""The Celery application. Tasks are thin: they take primary keys and call a service function."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onprem.settings")

app = Celery("onprem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _scrub_secrets(logger, **kwargs):
    """The worker's and beat's own handlers (``--logfile``: worker.log, beat.log, read in the
    Support Center) get the filter that keeps secrets out of log lines (core/log_scrub.py)."""
    from core.log_scrub import attach

    attach(logger)


@worker_ready.connect
def _record_host(sender=None, **kwargs):
    """Each node's worker writes its node's facts for the High Availability widget when it starts."""
    from django.db import connections

    from admin_widgets.ha.hosts import record_this_host

    record_this_host()
    connections.close_all()  # the pool's children keep their own connections
