"""The apps' periodic tasks in django-celery-beat's schedule, kept from their post_migrate handlers."""


def keep_periodic_task(name, task, *, every, period="seconds", follow_setting=False):
    """Make sure beat runs ``task`` (a Celery task name) every ``every`` ``period``.

    Created once and then left alone, so an administrator's change to the interval survives the
    next migrate; with ``follow_setting`` the interval comes from a setting and is re-applied each
    time (the setting, not the schedule, is where it is changed).
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    defaults = {"task": task, "interval": interval, "enabled": True}
    if follow_setting:
        PeriodicTask.objects.update_or_create(name=name, defaults=defaults)
    else:
        PeriodicTask.objects.get_or_create(name=name, defaults=defaults)
