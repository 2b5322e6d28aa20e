"""The REST API v1 (guide, "Using Smart Software Manager On-Prem APIs"), served under
``/api/v1/`` and ``/backend/api/v1/``.

Thin on purpose: serializers parse and validate, ``accounts.rbac`` authorizes, the licensing
services act; this package only translates to and from the guide's JSON (field names,
``status`` / ``statusMessage`` texts, HTTP 200 / 403 / 422).
"""
