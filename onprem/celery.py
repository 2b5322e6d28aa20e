"""The Celery application. Tasks are thin: they take primary keys and call a service function."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onprem.settings")

app = Celery("onprem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
