"""View guards built on the RBAC policy: one line per view says what it needs."""

from functools import wraps

from django.contrib.auth.decorators import login_required

from core.errors import NotAllowed

from .rbac import can


def requires(action):
    """Only for signed-in principals allowed the system action ``action``; others get 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not can(request, action):
                raise NotAllowed()
            return view(request, *args, **kwargs)

        wrapped.required_action = action
        return wrapped

    return decorator
