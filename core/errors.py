"""Errors that service functions raise for the caller to show as they are."""

from django.core.exceptions import PermissionDenied


class ServiceError(Exception):
    """A business rule refused the change; ``str(error)`` is the message for the user."""

    def __init__(self, message, *, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(PermissionDenied):
    """The principal may not do this (RBAC): answered with 403 by views and the API."""


__all__ = ["ServiceError", "NotAllowed"]
