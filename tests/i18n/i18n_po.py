"""A small .po reader for the i18n tests (the project does not depend on polib)."""

import ast
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

# Directory name under locale/ -> the language code Django activates.
CATALOGUES = {"ja": "ja", "zh_Hans": "zh-hans", "ko": "ko"}


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: str = ""
    msgstr_plural: dict = field(default_factory=dict)
    flags: set = field(default_factory=set)
    obsolete: bool = False

    @property
    def translations(self):
        return list(self.msgstr_plural.values()) if self.msgid_plural is not None else [self.msgstr]


def _unquote(text):
    # A .po string is a C string literal; these are a subset of Python's escapes.
    return ast.literal_eval(text)


def parse_po(path):
    """[Entry, ...] of a .po file, the header (msgid "") included as the first entry."""
    entries, entry, target = [], Entry(), None

    def flush():
        nonlocal entry, target
        if target is not None:
            entries.append(entry)
        entry, target = Entry(), None

    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            if target is not None:
                flush()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            if target is not None and target[0] not in ("comment",):
                flush()
            continue
        if line.startswith('"'):
            kind, key = target
            value = _unquote(line)
            if kind == "plural":
                entry.msgstr_plural[key] += value
            else:
                setattr(entry, kind, (getattr(entry, kind) or "") + value)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgctxt" or (keyword == "msgid" and target is not None and target[0] != "msgctxt"):
            if target is not None and target[0] != "msgctxt":
                flush()
        if keyword.startswith("msgstr["):
            index = int(keyword[7:-1])
            entry.msgstr_plural[index] = _unquote(rest)
            target = ("plural", index)
        elif keyword in ("msgid", "msgid_plural", "msgctxt", "msgstr"):
            setattr(entry, keyword, _unquote(rest))
            target = (keyword, None)
        else:
            raise ValueError(f"{path}: cannot parse line {raw!r}")
    flush()
    return entries


def header(entries):
    first = entries[0]
    assert first.msgid == "" and first.msgctxt is None
    return dict(line.split(": ", 1) for line in first.msgstr.splitlines() if ": " in line)


def po_path(directory):
    return Path(settings.BASE_DIR) / "locale" / directory / "LC_MESSAGES" / "django.po"
