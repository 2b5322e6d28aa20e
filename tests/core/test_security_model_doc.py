"""docs/security-model.md names, for every line of trust, the tests that prove it: each must exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security-model.md"
# `dir/test_file.py::test_name[param]`, `dir/test_file.py`, or `::test_name` (in the file named last).
REFERENCE = re.compile(r"`((?:[\w/]+/)?test_\w+\.py)?(?:::(\w+)(?:\[[^\]]*\])?)?`")


def _references():
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        current = None
        for match in REFERENCE.finditer(line.split("|")[-2]):  # the "proved by" cell
            path, name = match.groups()
            if path:
                current = path
            if current is not None and (path or name):
                yield current, name


def test_every_test_the_page_names_exists():
    references = list(_references())
    assert len(references) > 60  # the parser still reads the tables
    missing = []
    for path, name in references:
        file = ROOT / "tests" / path
        if not file.exists():
            missing.append(path)
        elif name and not re.search(rf"^def {name}\(", file.read_text(encoding="utf-8"), re.M):
            missing.append(f"{path}::{name}")
    assert missing == []
