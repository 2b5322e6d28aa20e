"""The reliability report counts a JUnit XML per area: a whole-suite run's (``--junit``) as well as its own."""

from bench import reliability_report as report

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.api.test_fuzz" name="test_a" time="1.5"/>
  <testcase classname="tests.api.test_fuzz" name="test_b" time="0.5"><failure message="x"/></testcase>
  <testcase classname="tests.ops.test_backup_restore.TestRoundTrip" name="test_c" time="2"/>
  <testcase classname="tests.ops.test_backup_restore" name="test_d" time="0"><skipped message="pg"/></testcase>
  <testcase classname="tests.licensing.test_unrelated" name="test_e" time="9"/>
</testsuite></testsuites>
"""


def test_counts_per_area_and_ignores_other_tests(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    rows = {area: (total, verdict) for area, _paths, total, verdict in report.count(junit)}
    fuzz, verdict = rows["REST API fuzzing (schemathesis)"]
    assert (fuzz["passed"], fuzz["failed"], fuzz["skipped"], fuzz["seconds"], verdict) == (1, 1, 0, 2.0, "FAILED")
    backup, verdict = rows["Backup and restore (round trip, refusals, full-sync flag)"]
    assert (backup["passed"], backup["skipped"], verdict) == (1, 1, "held")
    assert rows["Device message parser (hypothesis)"][1] == "not run"
    assert sum(total["passed"] + total["failed"] + total["skipped"] for total, _v in rows.values()) == 4


def test_a_missing_junit_file_is_refused(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        report.main(["--junit", str(tmp_path / "none.xml")])
    assert exit_info.value.code == 2
    assert "no such file" in capsys.readouterr().err
