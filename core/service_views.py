"""Calling a service from a view: the one way a view shows a change the service refused.

A view wraps the service call, and the reply it gives when the call succeeds, in
``service_errors``::

    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            va = va_service.create_virtual_account(actor=request.user, account=account, **form.cleaned_data)
            messages.success(request, _("The local virtual account “%(name)s” was created.") % {"name": va.name})
            return redirect("licensing_manage_virtual_accounts", account_id=account.pk)
    return render(...)  # the form again, now with the refusal on it

If the service raises ``ServiceError`` (it wrote nothing: its transaction rolled back), the
rest of the block is skipped and the refusal is shown: on the form's field that
``ServiceError.field`` names, or above the form; without a form, as an error message for the
page the view then redirects to. Every other exception goes on unchanged: ``NotAllowed`` is a
``PermissionDenied``, which Django answers with 403.

Only the service call and the success reply belong in the block: a ``ServiceError`` raised by
anything else in it would be shown as the service's refusal. This module imports no app.
"""

from contextlib import contextmanager

from django.contrib import messages

from .errors import ServiceError


def form_field_for(form, error, fields=None):
    """The field of ``form`` that shows ``error``, or None for above the form.

    ``fields`` renames the service's field names where the form calls them otherwise
    (``{"password": "new_password"}``); a name mapped to None is shown above the form.
    """
    name = fields.get(error.field, error.field) if fields else error.field
    return name if name in form.fields else None


@contextmanager
def service_errors(request, form=None, *, field=None, fields=None, message=None):
    """Show a ``ServiceError`` raised in the block to the user, and let the view go on after it.

    * ``form``: the bound form the input came from; the refusal becomes one of its errors.
    * ``field``: the form has a single input that every refusal is about (an uploaded file).
    * ``fields``: the service's field names that the form names differently (see ``form_field_for``).
    * ``message``: without a form, a function that turns the service's message into the text shown.
    """
    try:
        yield
    except ServiceError as error:
        if form is not None:
            form.add_error(field or form_field_for(form, error, fields), error.message)
        else:
            messages.error(request, message(error.message) if message else error.message)


__all__ = ["form_field_for", "service_errors"]
