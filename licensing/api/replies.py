"""The guide's reply bodies: ``{"status": ..., "statusMessage": ..., ...}`` and the errors behind them.

Every refusal is an ``ApiError`` carrying its HTTP code (403 not authorized, 422 anything the
caller sent that cannot be processed) and the guide's message; ``ApiView`` turns it, and the
service layer's ``NotAllowed`` / ``ServiceError``, into that body.
"""

import io
from collections.abc import Mapping

from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotAllowed, ServiceError

SUCCESS, WARNING, ERROR = "SUCCESS", "WARNING", "ERROR"


class ApiError(Exception):
    def __init__(self, message, *, http_status=status.HTTP_422_UNPROCESSABLE_ENTITY, **extra):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.extra = extra

    def body(self):
        return {"status": ERROR, "statusMessage": self.message, **self.extra}


def forbidden(message, **extra):
    return ApiError(message, http_status=status.HTTP_403_FORBIDDEN, **extra)


def unprocessable(message, **extra):
    return ApiError(message, **extra)


def actor(request):
    """Who the services record as having acted: the person behind a password-grant token, or
    the ``ApiCaller`` of a client-credentials grant (accounts.api_auth)."""
    return getattr(request.user, "actor", request.user)


def reply(message="", *, result=SUCCESS, http_status=status.HTTP_200_OK, **fields):
    return Response({"status": result, "statusMessage": message, **fields}, status=http_status)


def batch_result(succeeded, total):
    """SUCCESS when every item went through, WARNING for some, ERROR (422) for none."""
    if succeeded == total:
        return SUCCESS, status.HTTP_200_OK
    if succeeded:
        return WARNING, status.HTTP_200_OK
    return ERROR, status.HTTP_422_UNPROCESSABLE_ENTITY


def first_error(detail, messages_by_field=None):
    """One readable sentence from a DRF ValidationError's detail (nested dicts and lists)."""
    messages_by_field = messages_by_field or {}
    if isinstance(detail, dict):
        for field, value in detail.items():
            if field in messages_by_field:
                return messages_by_field[field]
            text = first_error(value)
            return text if field == "non_field_errors" else f"{field}: {text}"
    if isinstance(detail, list) and detail:
        return first_error(detail[0])
    return str(detail)


def _names(names):
    return ", ".join(sorted(names)) or "none"


def unknown_parameter(serializer, data, prefix=""):
    """The first parameter of ``data`` (a body object or a query string) that ``serializer`` does
    not know, as ``name`` or ``sudi.name`` when nested, with the known names; else None."""
    if not isinstance(data, Mapping):
        return None
    fields = serializer.fields
    for key in data:
        if key not in fields:
            return f"{prefix}{key}", _names(fields)
        field, value = fields[key], data[key]
        if isinstance(field, serializers.Serializer) and not isinstance(field, serializers.ListSerializer):
            found = unknown_parameter(field, value, prefix=f"{prefix}{key}.")
            if found:
                return found
    return None


def refuse_unknown(name, known, where="parameter"):
    raise unprocessable(f"Unknown {where} '{name}'. Valid {where}s: {known}.", parameter=name)


def validate(serializer_class, data, *, messages_by_field=None, **kwargs):
    """``serializer.validated_data``, or a 422 with the guide's message for the field at fault.

    A parameter the serializer does not know is refused (422 naming it), never ignored: a
    misspelt filter would otherwise widen a search, and a script act on every record.
    """
    serializer = serializer_class(data=data, **kwargs)
    unknown = unknown_parameter(serializer, data)
    if unknown:
        refuse_unknown(*unknown)
    if not serializer.is_valid():
        messages = {**getattr(serializer_class, "messages_by_field", {}), **(messages_by_field or {})}
        raise unprocessable(first_error(serializer.errors, messages))
    return serializer.validated_data


FORM_BODY = "A form body is not accepted: send the parameters as a JSON object (Content-Type: application/json)."


class FormEncodedJSONParser(JSONParser):
    """A JSON body sent as ``application/x-www-form-urlencoded`` (what ``curl -d '{...}'`` sends
    without ``-H 'Content-Type: application/json'``): read as the JSON it is. A real form body
    (``limit=5``) is no JSON: 415 with ``FORM_BODY``, rather than a JSON parse error."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        if not body.lstrip().startswith((b"{", b"[")):
            raise exceptions.UnsupportedMediaType(media_type, detail=FORM_BODY)
        return super().parse(io.BytesIO(body), media_type, parser_context)


# Base of every API view: the default authentication and permissions of the project's
# REST_FRAMEWORK settings (bearer tokens, the API Console), and the guide's error bodies.
# (A comment, not a docstring: the schema would show a docstring as every operation's text.)
class ApiView(APIView):
    parser_classes = [JSONParser, FormEncodedJSONParser]
    renderer_classes = [JSONRenderer]  # never DRF's HTML browsable page: a browser gets the JSON too
    # The query parameters the view reads (none but the device search's); the methods that read
    # a body. Anything else a caller sends is refused with 422 naming it, never ignored.
    query_parameters: tuple[str, ...] = ()
    body_methods = frozenset({"post"})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and permissions first: 403 before 422
        for name in request.query_params:
            if name not in self.query_parameters:
                refuse_unknown(name, _names(self.query_parameters), "query parameter")
        if request.method.lower() not in self.body_methods:
            data = request.data
            if isinstance(data, Mapping):
                for name in data:
                    refuse_unknown(name, "none", "parameter")
            elif data not in (None, ""):
                raise unprocessable("This request takes no body.")

    def handle_exception(self, exc):
        if isinstance(exc, ApiError):
            return Response(exc.body(), status=exc.http_status)
        if isinstance(exc, NotAllowed):
            return Response(
                {"status": ERROR, "statusMessage": str(exc) or "Not Authorized."}, status=status.HTTP_403_FORBIDDEN
            )
        if isinstance(exc, ServiceError):
            return Response(
                {"status": ERROR, "statusMessage": exc.message}, status=status.HTTP_422_UNPROCESSABLE_ENTITY
            )
        if isinstance(exc, exceptions.ParseError):
            return Response(
                {"status": ERROR, "statusMessage": f"Malformed request body: {exc.detail}"},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return Response(
                {"status": ERROR, "statusMessage": str(exc.detail)}, status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
            )
        return super().handle_exception(exc)
