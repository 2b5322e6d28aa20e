"""A lost database answers 503 + Retry-After (retried by agents), never a bare 500."""

import json

from django.db import OperationalError


def test_middleware_turns_connection_errors_into_503(rf):
    from core.db_unavailable import DatabaseUnavailableMiddleware

    def view(request):
        raise OperationalError("could not connect to server: Connection refused")

    middleware = DatabaseUnavailableMiddleware(view)
    device = middleware(rf.post("/SmartTransport", data=b"{}", content_type="application/json"))
    assert device.status_code == 503 and device["Retry-After"] == "5"
    assert json.loads(device.content)["status"] == "ERROR"
    page = middleware(rf.get("/accounts/1/inventory/"))
    assert page.status_code == 503 and b"Retry later" in page.content and page["Retry-After"] == "5"


def test_other_errors_are_not_hidden(rf):
    import pytest

    from core.db_unavailable import DatabaseUnavailableMiddleware

    def view(request):
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        DatabaseUnavailableMiddleware(view)(rf.get("/"))
