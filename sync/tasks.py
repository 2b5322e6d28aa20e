"""Celery tasks of the synchronization (thin: the work is in ``sync.services``).

``synchronize_account`` is idempotent and safe to retry: it claims the account with one
conditional UPDATE (a second run while one is in progress does nothing), the response is
applied in one transaction with the account's sync state row locked, and an online request
whose answer was lost is sent again unchanged (CSSM answers it with the same response).
"""

import datetime
import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)
# A run that claimed an account longer ago than this died (worker killed): it may be claimed again.
STALE_AFTER = datetime.timedelta(minutes=15)


# The status message of an account whose task could not be handed to the broker (Redis down):
# the request is kept in the database and ``run_scheduled`` hands it over when the broker is back.
# The two texts are the marker (no extra column), one per synchronization type.
WAITING_FOR_QUEUE = {
    False: "Waiting for the task queue (unavailable): the standard synchronization starts when it is back…",
    True: "Waiting for the task queue (unavailable): the full synchronization starts when it is back…",
}


def queue_sync(account, *, full=False, actor=None):
    """Synchronization Now: mark the account queued (the page shows it) and hand it to a worker.

    When the broker cannot take the task (``delay`` raises after kombu's publish retries), the
    account stays queued with ``WAITING_FOR_QUEUE`` as its status: nothing is lost, and the next
    ``run_scheduled`` after the broker is back dispatches it. Returns True when it was dispatched.
    """
    from kombu.exceptions import OperationalError

    from .models import AccountSync

    now = timezone.now()
    AccountSync.objects.filter(account=account).exclude(
        status=AccountSync.Status.RUNNING, status_changed_at__gte=now - STALE_AFTER
    ).update(status=AccountSync.Status.QUEUED, status_message="Waiting for a worker…", status_changed_at=now)
    try:
        synchronize_account.delay(account.pk, full=full, actor_id=getattr(actor, "pk", None))
    except (OperationalError, OSError) as error:
        logger.warning(
            "The task broker is unavailable (%s); the synchronization of account %s waits in the "
            "database until it is back.",
            type(error).__name__,
            account.pk,
        )
        AccountSync.objects.filter(account=account, status=AccountSync.Status.QUEUED).update(
            status_message=WAITING_FOR_QUEUE[bool(full)]
        )
        return False
    return True


def dispatch_waiting():
    """Hand over the synchronizations ``queue_sync`` could not queue; returns the account ids sent."""
    from kombu.exceptions import OperationalError

    from .models import AccountSync

    sent = []
    for full, message in WAITING_FOR_QUEUE.items():
        for account_id in AccountSync.objects.filter(
            status=AccountSync.Status.QUEUED, status_message=message
        ).values_list("account_id", flat=True):
            # Claimed first (one conditional UPDATE), so two beats or a retry do not send it twice.
            if AccountSync.objects.filter(
                account_id=account_id, status=AccountSync.Status.QUEUED, status_message=message
            ).update(status_message="Waiting for a worker…"):
                try:
                    synchronize_account.delay(account_id, full=full)
                except (OperationalError, OSError):
                    AccountSync.objects.filter(account_id=account_id, status=AccountSync.Status.QUEUED).update(
                        status_message=message
                    )  # still waiting: the next run tries again
                    raise
                sent.append(account_id)
    return sent


@shared_task(name="sync.synchronize_account")
def synchronize_account(account_id, full=False, actor_id=None):
    from django.contrib.auth import get_user_model

    from core.errors import ServiceError
    from licensing.models import LocalAccount

    from .models import AccountSync
    from .services.synchronization import synchronize

    account = LocalAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "gone"
    now = timezone.now()
    claimed = (
        AccountSync.objects.filter(account=account)
        .filter(~Q(status=AccountSync.Status.RUNNING) | Q(status_changed_at__lt=now - STALE_AFTER))
        .update(status=AccountSync.Status.RUNNING, status_message="Synchronization in progress…", status_changed_at=now)
    )
    if not claimed:
        return "busy"
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    result = "failed"
    try:
        record = synchronize(account, actor=actor, full=full)
        message, result = record.message, "success"
    except ServiceError as exc:
        message = exc.message
    except Exception:
        logger.exception("synchronization of account %s failed", account_id)
        message = "The synchronization failed unexpectedly; see the server log."
    AccountSync.objects.filter(account=account).update(
        status=AccountSync.Status.IDLE, status_message=message[:500], status_changed_at=timezone.now()
    )
    return result


@shared_task(name="sync.run_scheduled")
def run_scheduled():
    """Hand every account that is due (Schedules tab) to ``synchronize_account``, after the
    Synchronization Now requests that waited for the broker (``dispatch_waiting``)."""
    from .models import AccountSync
    from .services.common import sync_settings
    from .services.schedule import due_states

    now = timezone.now()
    queued = dispatch_waiting()
    for state in due_states(sync_settings(), now):
        AccountSync.objects.filter(pk=state.pk).update(last_attempt_at=now)
        synchronize_account.delay(state.account_id, full=state.full_sync_required)
        queued.append(state.account_id)
    return queued


@shared_task(name="sync.check_overdue")
def check_overdue():
    """The Synchronization Overdue / Re-registration Required alerts (30 / 90 / 365 days), and
    the Upcoming SSM On-Prem Sync Deadline / SSM On-Prem expired and removed ones (60 / 90 days)."""
    from licensing.models import LocalAccount
    from licensing.services.alerts import sync_overdue
    from licensing.services.cssm_alerts import sync_calendar

    from .models import AccountSync

    count = 0
    for state in AccountSync.objects.filter(
        registered_at__isnull=False, account__status=LocalAccount.Status.ACTIVE
    ).select_related("account"):
        last = state.last_sync_at or state.registered_at
        sync_overdue(state.account, last)
        sync_calendar(state.account, last, onprem_name=state.onprem_name or state.account.name)
        count += 1
    return count


@shared_task(name="sync.check_authorization_files")
def check_authorization_files():
    """SSM On-Prem Authorization File Ready: ask CSSM whether the waiting manual registrations'
    Authorization Files have been generated (sync.services.registration)."""
    from .services.registration import check_authorization_files as check

    return check()


@shared_task(name="sync.purge_expired_nonces")
def purge_expired_nonces():
    """Device nonces past their 24-hour window (licensing.services.device_nonces)."""
    from licensing.services.device_nonces import purge_expired_nonces as purge

    return purge()
