"""The suite's own layout: test folders have no __init__.py, so pytest imports each test module
by its bare name; two files with one name in different folders stop the whole run at collection."""
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_names_are_unique():
    names = Counter(path.name for path in TESTS.rglob("test_*.py") if "vendor" not in path.parts)
    assert [name for name, count in names.items() if count > 1] == []
