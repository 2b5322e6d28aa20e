"""Synchronizations with CSSM, counted by mode and result; registered with ``core.metrics`` from
``SyncConfig.ready``."""

from prometheus_client import Counter

SYNC_RESULTS = Counter("onprem_sync_total", "Synchronizations with CSSM", ["mode", "result"])


def sync_result(mode, result):
    SYNC_RESULTS.labels(mode=mode, result=result).inc()
