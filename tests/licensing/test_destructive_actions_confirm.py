"""Every destructive action of both workspaces asks first, and sortable headers say their order.

A static audit of the templates: a POST form whose action or submit button deletes,
removes, revokes, rejects, declines, deactivates, disables, dismisses or regenerates carries
``data-confirm`` (static/onprem/onprem.js asks with the browser's modal, keyboard-operable
confirm()). A button that submits another form (``form="…"``) is checked on that form.
"""

import re
from pathlib import Path

from django.conf import settings
from django.template import Context, Template

DESTRUCTIVE = re.compile(r"remove|delete|revoke|deregist|reject|declin|deactivat|disable|dismiss|regenerat|purge", re.I)
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
BUTTON = re.compile(r"<button\b([^>]*)>(.*?)</button>", re.S)


def _templates():
    return sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))


def test_every_destructive_post_form_asks_first():
    missing = []
    for path in _templates():
        text = path.read_text()
        for form in FORM.finditer(text):
            attrs, body = form.group(1), form.group(2)
            if not re.search(r'method="post"', attrs, re.I) or "data-confirm" in attrs:
                continue
            action = re.search(r'action="([^"]*)"', attrs)
            own_buttons = [label for battrs, label in BUTTON.findall(body) if "form=" not in battrs]
            words = (action.group(1) if action else "") + " " + " ".join(own_buttons)
            # "Enable …" / "Disable …" toggles ask only when they disable (the template's own if).
            if DESTRUCTIVE.search(words):
                line = text[: form.start()].count("\n") + 1
                missing.append(f"{path.relative_to(settings.BASE_DIR)}:{line}: {words.strip()[:120]}")
    assert not missing, "destructive actions without data-confirm:\n" + "\n".join(missing)


def test_the_audit_sees_a_form_without_confirmation():
    """The check above can fail: a remove form without data-confirm is caught by the same pattern."""
    form = '<form method="post" action="{% url \'x_remove\' 1 %}"><button type="submit">Remove</button></form>'
    match = FORM.search(form)
    assert match and "data-confirm" not in match.group(1) and DESTRUCTIVE.search(match.group(0))


def test_aria_sort_names_the_order_of_the_sorted_column():
    class Table:
        sort = "-name"

    template = Template('{% load listing %}<th{{ t|aria_sort:"name" }}><th{{ t|aria_sort:"date" }}>')
    assert template.render(Context({"t": Table()})) == '<th aria-sort="descending"><th>'
    Table.sort = "name"
    assert 'aria-sort="ascending"' in template.render(Context({"t": Table()}))
