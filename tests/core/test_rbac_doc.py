"""docs/rbac.md is the code: its two tables are ``SYSTEM_MATRIX`` and ``ACCOUNT_MATRIX`` of
accounts/rbac.py, cell by cell, so a change to the policy that is not written into the page (or
the other way round) fails here. A failure prints the rows as the code has them.

(tests/core/test_rbac_matrix.py is the other half: the same tables written out by hand, so a
change to the policy must also be meant.)
"""

import re
from pathlib import Path

import pytest

from accounts.rbac import ACCOUNT_MATRIX, ALL, BOTH, OWN, SYSTEM_MATRIX, Action
from accounts.roles import AccountRole, SystemRole

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "rbac.md"

SYSTEM_COLUMNS = [SystemRole.ADMIN, SystemRole.OPERATOR, SystemRole.USER]
ACCOUNT_COLUMNS = [AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER, AccountRole.VA_ADMIN, AccountRole.VA_USER]
# The page's words for how far an account role reaches (its legend above the table).
REACH = {ALL: "whole account", OWN: "own VAs", BOTH: "both VAs", None: "no"}


def system_row(action):
    return ["yes" if role in SYSTEM_MATRIX[action] else "no" for role in SYSTEM_COLUMNS]


def account_row(action):
    return [REACH[ACCOUNT_MATRIX[action].get(role)] for role in ACCOUNT_COLUMNS]


def _cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def page_table(columns):
    """``{action: [cell per role]}`` of the page's table whose last header cells are the labels
    of ``columns``; each row starts with the action's value in backticks."""
    labels = [str(role.label) for role in columns]
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("|") and _cells(line)[-len(labels) :] == labels]
    assert len(starts) == 1, f"docs/rbac.md needs one table headed ... | {' | '.join(labels)} |"
    rows = {}
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        found = re.fullmatch(r"`([a-z_]+)`", cells[0])
        assert found, f"a row must start with an action in backticks: {line}"
        action = Action(found.group(1))
        assert action not in rows, f"{action} is listed twice"
        rows[action] = cells[-len(labels) :]
    return rows


def _as_rows(table):
    return "\n".join(f"| `{action}` | ... | {' | '.join(cells)} |" for action, cells in table.items())


@pytest.mark.parametrize(
    "columns, matrix, row",
    [
        (SYSTEM_COLUMNS, SYSTEM_MATRIX, system_row),
        (ACCOUNT_COLUMNS, ACCOUNT_MATRIX, account_row),
    ],
    ids=["system", "account"],
)
def test_the_pages_table_is_the_codes_matrix(columns, matrix, row):
    expected = {action: row(action) for action in matrix}
    assert page_table(columns) == expected, "docs/rbac.md should read:\n" + _as_rows(expected)


def test_every_action_is_in_exactly_one_table():
    assert set(SYSTEM_MATRIX) | set(ACCOUNT_MATRIX) == set(Action)
    assert not set(SYSTEM_MATRIX) & set(ACCOUNT_MATRIX)


# Paths and names of documents that live outside this repository (the design notes and the
# vendor guide kept next to it): the README and docs must stand on their own.
OUTSIDE = re.compile(
    r"\.\./shared\b|/work/shared|\bshared/(spec|RBAC|ARCHITECTURE|PROTOCOL)\b"
    r"|\b(RBAC|ARCHITECTURE|PROTOCOL)\.md\b"
)


def test_readme_and_docs_point_nowhere_outside_the_repository():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for page in pages
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []
