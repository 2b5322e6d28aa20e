"""English for the machine-facing outputs (API responses, event messages, device replies): model
choice labels are translated for pages (``gettext_lazy``), and must not follow the language
that happens to be active in the request."""

from django.utils import translation

LANGUAGE = "en"


def english(text):
    """``text`` (a lazy translation or a plain string) in English."""
    with translation.override(LANGUAGE):
        return str(text)


def english_display(instance, field):
    """``instance.get_<field>_display()`` in English."""
    with translation.override(LANGUAGE):
        return str(getattr(instance, f"get_{field}_display")())
