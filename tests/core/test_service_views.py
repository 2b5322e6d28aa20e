"""``core.service_views.service_errors``: where a refused change is shown, and what goes on."""

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import RequestFactory

from core.errors import NotAllowed, ServiceError
from core.service_views import service_errors


class NameForm(forms.Form):
    name = forms.CharField()
    new_password = forms.CharField(required=False)


@pytest.fixture
def request_():
    request = RequestFactory().post("/")
    request._messages = CookieStorage(request)
    return request


def bound_form():
    form = NameForm({"name": "Physics"})
    assert form.is_valid()
    return form


def refuse(error):
    raise error


def shown(request):
    return [(m.level_tag, m.message) for m in get_messages(request)]


def test_a_refusal_lands_on_the_field_it_names_and_skips_the_rest_of_the_block(request_):
    form = bound_form()
    ran = []
    with service_errors(request_, form):
        refuse(ServiceError("That name is taken.", field="name"))
        ran.append("success")
    assert ran == []
    assert form.errors == {"name": ["That name is taken."]}
    assert shown(request_) == []


@pytest.mark.parametrize("field", [None, "not_on_this_form"])
def test_a_refusal_about_no_field_of_the_form_goes_above_it(request_, field):
    form = bound_form()
    with service_errors(request_, form):
        raise ServiceError("Refused.", field=field)
    assert form.non_field_errors() == ["Refused."]
    assert "name" not in form.errors


def test_fields_renames_the_services_field_and_none_puts_it_above_the_form(request_):
    form = bound_form()
    with service_errors(request_, form, fields={"password": "new_password"}):
        raise ServiceError("Too short.", field="password")
    assert form.errors["new_password"] == ["Too short."]
    form = bound_form()
    with service_errors(request_, form, fields={"name": None}):
        raise ServiceError("Hidden field.", field="name")
    assert form.non_field_errors() == ["Hidden field."]


def test_field_puts_every_refusal_on_that_field(request_):
    form = bound_form()
    with service_errors(request_, form, field="new_password"):
        raise ServiceError("Refused.")
    assert form.errors == {"new_password": ["Refused."]}


def test_without_a_form_the_refusal_is_an_error_message(request_):
    with service_errors(request_):
        raise ServiceError("The token must be revoked first.")
    assert shown(request_) == [("error", "The token must be revoked first.")]


def test_message_words_the_refusal(request_):
    with service_errors(request_, message=lambda text: f"Synchronization Failed: {text}"):
        raise ServiceError("corrupted file")
    assert shown(request_) == [("error", "Synchronization Failed: corrupted file")]


def test_the_block_runs_to_its_end_when_nothing_is_refused(request_):
    form = bound_form()
    with service_errors(request_, form):
        result = "saved"
    assert result == "saved"
    assert form.errors == {}


@pytest.mark.parametrize("error", [NotAllowed("no"), ValueError("bug")])
def test_anything_but_a_refusal_goes_on(request_, error):
    # NotAllowed is a PermissionDenied: Django answers it with 403; a bug stays a 500.
    form = bound_form()
    with pytest.raises(type(error)):
        with service_errors(request_, form):
            raise error
    assert form.errors == {}
    assert shown(request_) == []
