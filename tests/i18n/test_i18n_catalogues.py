"""Each shipped catalogue is complete, keeps the placeholders, and its committed .mo is current."""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.i18n.i18n_po import CATALOGUES, header, parse_po, po_path

# The directories docs/i18n.md tells makemessages to ignore.
SKIPPED_TOP_LEVEL = (".venv", "tests", "smart_agent", "var", "bench", "locale")

# %(name)s / %(count)d, bare %s / %d, and str.format-style {name} placeholders; %% is a literal.
PLACEHOLDER = re.compile(r"%\([^)]+\)[sdifr]|%[sdifr]|\{[A-Za-z_][A-Za-z0-9_.]*\}")


def placeholders(text):
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def messages(entries):
    return [e for e in entries[1:] if not e.obsolete]


def test_header_declares_one_plural_form_and_utf8(catalogue):
    directory, entries = catalogue
    meta = header(entries)
    assert "fuzzy" not in entries[0].flags
    assert meta["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert "charset=UTF-8" in meta["Content-Type"]
    assert meta["Language"] == directory


def test_every_message_is_translated_and_not_fuzzy(catalogue):
    directory, entries = catalogue
    found = messages(entries)
    assert len(found) > 500, "the catalogue lost its messages"
    untranslated = [e.msgid for e in found if not all(t.strip() for t in e.translations)]
    fuzzy = [e.msgid for e in found if "fuzzy" in e.flags]
    assert not untranslated, f"{directory}: untranslated: {untranslated[:10]}"
    assert not fuzzy, f"{directory}: fuzzy: {fuzzy[:10]}"
    plurals = [e for e in found if e.msgid_plural is not None]
    assert plurals and all(list(e.msgstr_plural) == [0] for e in plurals)


def test_translations_keep_the_placeholders(catalogue):
    directory, entries = catalogue
    wrong = []
    for e in messages(entries):
        expected = placeholders(e.msgid_plural if e.msgid_plural is not None else e.msgid)
        for translation in e.translations:
            if placeholders(translation) != expected:
                wrong.append((e.msgid, translation))
    assert not wrong, f"{directory}: placeholders differ: {wrong[:5]}"


def test_translations_are_not_left_in_english(catalogue):
    # A msgstr equal to its msgid is allowed only for names and codes that stay as they are.
    directory, entries = catalogue
    copied = [
        e.msgid
        for e in messages(entries)
        if e.msgstr == e.msgid
        and re.search(r"[a-z]{3,} [a-z]{3,}", e.msgid)
        and "Smart Software Manager" not in e.msgid
        and "Smart Account" not in e.msgid
    ]
    assert not copied, f"{directory}: copied untranslated: {copied[:10]}"


def test_committed_mo_matches_the_po(catalogue):
    """The .mo files are committed (no gettext at run time): they must say what the .po says."""
    directory, entries = catalogue
    mo = po_path(directory).with_suffix(".mo")
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in messages(entries):
        if e.msgid_plural is not None:
            got = compiled.ngettext(e.msgid, e.msgid_plural, 2)
            want = e.msgstr_plural[0]
        else:
            got = compiled.gettext(e.msgid)
            want = e.msgstr
        if e.msgctxt is None and got != want:
            stale.append(e.msgid)
    assert not stale, f"{directory}: run compilemessages; stale: {stale[:5]}"


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="gettext's msgfmt is not installed")
def test_msgfmt_accepts_every_catalogue(catalogue):
    directory, _ = catalogue
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", "/dev/null", str(po_path(directory))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not shutil.which("xgettext"), reason="gettext's xgettext is not installed")
def test_every_ui_string_in_the_code_is_in_the_catalogues(tmp_path, settings, monkeypatch):
    """Every new UI string ships with its translations: extract the strings as the docs say
    (into a scratch directory, not locale/) and compare with the committed catalogues."""
    # makemessages writes next to the nearest locale/ directory it sees, so it runs in a scratch
    # tree of symlinks to the sources: the committed catalogues are never touched.
    source = tmp_path / "src"
    source.mkdir()
    for item in Path(settings.BASE_DIR).iterdir():
        if item.name not in SKIPPED_TOP_LEVEL and not item.name.startswith("."):
            (source / item.name).symlink_to(item)
    out = tmp_path / "out" / "locale"
    out.mkdir(parents=True)
    settings.LOCALE_PATHS = [out]
    monkeypatch.chdir(source)
    call_command(
        "makemessages",
        locale=["ja"],
        no_obsolete=True,
        verbosity=0,
        symlinks=True,
        ignore_patterns=list(SKIPPED_TOP_LEVEL),
    )
    assert not (source / "locale").exists()
    extracted = {(e.msgctxt, e.msgid) for e in messages(parse_po(out / "ja/LC_MESSAGES/django.po"))}
    for directory in CATALOGUES:
        shipped = {(e.msgctxt, e.msgid) for e in messages(parse_po(po_path(directory)))}
        missing = sorted(msgid for _, msgid in extracted - shipped)
        assert not missing, f"{directory}: {len(missing)} strings lack translations (see docs/i18n.md): {missing[:10]}"
