"""Regenerate the results table of docs/reliability.md from real runs.

    .venv/bin/python -m bench.reliability_report            # print the table
    .venv/bin/python -m bench.reliability_report --write    # and replace it in docs/reliability.md
    .venv/bin/python -m bench.reliability_report --junit junit.xml --write   # from a whole-suite run

One pytest run over the selections below (``--junitxml``), counted per area; then
``manage.py check --deploy --fail-level WARNING`` (with a throwaway SECRET_KEY, DEBUG=0) and, if
it is installed, ``pip-audit``. Nothing is counted that did not run: a missing tool is reported
as "not run".
"""

import argparse
import datetime
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# (area, test files) -- the order of the table.
AREAS = [
    ("REST API fuzzing (schemathesis)", ["tests/api/test_fuzz.py"]),
    ("Device message parser (hypothesis)", ["tests/devices/test_parser_property.py"]),
    (
        "Oversized bodies (413 before parsing)",
        ["tests/reliability/test_reliability_limits.py", "tests/reliability/test_reliability_live.py"],
    ),
    ("Malformed uploads (hypothesis)", ["tests/reliability/test_reliability_bad_uploads.py"]),
    (
        "Sync-file parser, verifier and uploads for a registered account (hypothesis)",
        ["tests/reliability/test_reliability_sync_files.py"],
    ),
    (
        "Forged synchronization documents: only CSSM's document signer signs them",
        ["tests/security/test_sync_signer_roles.py", "tests/sync_emulator/test_certificate_roles.py"],
    ),
    (
        "Device channel trust: re-registration, CSLU pushes, usage bounds, unstorable text",
        [
            "tests/devices/test_reregistration.py",
            "tests/devices/test_cslu_access.py",
            "tests/devices/test_usage_bounds.py",
            "tests/devices/test_unstorable_text.py",
        ],
    ),
    (
        "One sign-in policy for the form and the password grant; tokens revoked on a password change",
        [
            "tests/security/test_security_grant_login_policy.py",
            "tests/security/test_security_token_revocation.py",
            "tests/api_auth/test_form_encoded_json.py",
        ],
    ),
    (
        "The last System Admin, no-store, forgot-password without a tell",
        [
            "tests/core/test_last_system_admin.py",
            "tests/security/test_security_no_store.py",
            "tests/security/test_security_forgot_password.py",
        ],
    ),
    ("Security headers, no inline code", ["tests/reliability/test_reliability_headers.py"]),
    ("CSRF on every POST, session fixation", ["tests/reliability/test_reliability_csrf_sessions.py"]),
    ("No secret in logs or events", ["tests/reliability/test_reliability_secrets_in_logs.py"]),
    (
        "Lockout, session limit, idle timeout",
        [
            "tests/security/test_security_lockout.py",
            "tests/security/test_security_token_lockout.py",
            "tests/security/test_security_sessions.py",
            "tests/core/test_login_and_wizard.py",
        ],
    ),
    ("Rate limits (sign-in, token)", ["tests/api_auth/test_rate_limits.py"]),
    ("Backup and restore (round trip, refusals, full-sync flag)", ["tests/ops/test_backup_restore.py"]),
    ("Upgrade from an older release", ["tests/ops/test_upgrade.py"]),
    ("`check --deploy` clean, and failing when it should", ["tests/reliability/test_reliability_deploy_check.py"]),
    ("Probes and metrics", ["tests/ops/test_metrics.py", "tests/ops/test_probes_and_request_ids.py"]),
    ("Soak reports failures and memory growth", ["tests/ops/test_soak_reports.py"]),
    # The fault runs: real processes killed, restarted or stopped (private Postgres and Redis).
    ("Fault: web workers killed during registrations and transfers", ["tests/faults/test_web_worker_kill.py"]),
    ("Fault: Celery worker killed during a task burst", ["tests/faults/test_celery_worker_kill.py"]),
    ("Fault: PostgreSQL restarted under load", ["tests/faults/test_postgres_restart.py"]),
    (
        "Fault: Redis stopped and started (mail and syncs not lost)",
        ["tests/faults/test_redis_down.py", "tests/ops/test_broker_down_sync.py"],
    ),
    ("Fault: sync killed inside its apply transaction", ["tests/faults/test_sync_apply_kill.py"]),
    ("Fault: two web nodes, streaming standby, failover", ["tests/ops/test_ha_nodes_and_replication.py"]),
    (
        "Fault: pg_auto_failover primary killed under two web nodes and two fleets (nothing lost)",
        ["tests/ha/test_failover.py", "tests/ha/test_database_url.py"],
    ),
    (
        "Lossless usage ingest (worker killed before/after commit, fail-over replay)",
        ["tests/faults/test_usage_ingest_kill.py"],
    ),
]


def _python():
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_tests(workdir):
    """Run the selections in one pytest process; the rows of the table."""
    files = [path for _area, paths in AREAS for path in paths if (ROOT / path).exists()]
    junit = Path(workdir) / "junit.xml"
    subprocess.run(
        [_python(), "-m", "pytest", *files, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
        cwd=ROOT,
        check=False,
    )
    return count(junit)


def count(junit):
    """The rows of the table from a JUnit XML file: this module's own run, or a whole-suite run
    (``--junit``: CI's ``pytest --junitxml``), of which only the selections' test cases count."""
    junit = Path(junit)
    files = [path for _area, paths in AREAS for path in paths if (ROOT / path).exists()]
    counts = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            # classname: tests.reliability.test_reliability_limits[.Class] -> the file it came from.
            module = case.get("classname", "")
            path = next(
                (
                    p
                    for p in files
                    if module == p[:-3].replace("/", ".") or module.startswith(p[:-3].replace("/", ".") + ".")
                ),
                None,
            )
            if path is None:
                continue
            entry = counts.setdefault(path, {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0})
            entry["seconds"] += float(case.get("time", 0) or 0)
            if case.find("failure") is not None or case.find("error") is not None:
                entry["failed"] += 1
            elif case.find("skipped") is not None:
                entry["skipped"] += 1
            else:
                entry["passed"] += 1
    rows = []
    for area, paths in AREAS:
        total = {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0}
        for path in paths:
            for key, value in counts.get(path, {}).items():
                total[key] += value
        ran = total["passed"] + total["failed"] + total["skipped"]
        verdict = "not run" if ran == 0 else ("held" if total["failed"] == 0 else "FAILED")
        rows.append((area, ", ".join(f"`{p}`" for p in paths), total, verdict))
    return rows


def run_deploy_check():
    env = dict(
        os.environ,
        SECRET_KEY=secrets.token_urlsafe(60),
        DEBUG="0",
        ONPREM_DATA_DIR=tempfile.mkdtemp(prefix="onprem-deploy-check-"),
    )
    result = subprocess.run(
        [_python(), "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    last = (result.stdout.strip().splitlines() or result.stderr.strip().splitlines() or [""])[-1]
    return ("held" if result.returncode == 0 else "FAILED"), last


def run_pip_audit():
    # CI's own audit venv (.ci/run), else one on PATH or in the project's venv.
    local = [ROOT / ".venv-audit/bin/pip-audit", ROOT / ".venv/bin/pip-audit"]
    tool = next((str(path) for path in local if path.exists()), None) or shutil.which("pip-audit")
    if tool is None:
        return "not run", "pip-audit is not installed (see docs/reliability.md)"
    env = dict(os.environ, PIPAPI_PYTHON_LOCATION=_python())
    result = subprocess.run(
        [tool, "--progress-spinner", "off", "--skip-editable"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    output = (result.stdout + result.stderr).strip().splitlines()
    skipped = sum(1 for line in output if "could not be audited" in line)
    summary = next((line for line in output if "known vulnerabilit" in line.lower()), output[0] if output else "")
    if skipped:
        summary += f" ({skipped} dependencies could not be audited: no vulnerability database reachable?)"
    verdict = "FAILED" if result.returncode else ("held" if not skipped else "incomplete")
    return verdict, summary


def database_in_use():
    """What the tests ran against, as the environment says (CI sets DATABASE_URL and REDIS_URL)."""
    db = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    return f"{db}, Redis" if os.environ.get("REDIS_URL") else db


def render(rows, deploy, audit, source="the selections run by this module"):
    lines = [
        f"Generated {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by "
        f"`python -m bench.reliability_report --write`, counting {source}.",
        "",
        "| area | tests | passed | failed | skipped | seconds | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for area, paths, total, verdict in rows:
        lines.append(
            f"| {area} | {paths} | {total['passed']} | {total['failed']} | {total['skipped']} "
            f"| {total['seconds']:.0f} | {verdict} |"
        )
    lines.append(f"| `check --deploy --fail-level WARNING` | | | | | | {deploy[0]}: {deploy[1]} |")
    lines.append(f"| `pip-audit` | | | | | | {audit[0]}: {audit[1]} |")
    return "\n".join(lines)


def write(table):
    text = DOC.read_text(encoding="utf-8")
    block = f"{START}\n{table}\n{END}"
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _m: block, text, flags=re.DOTALL)
    DOC.write_text(new, encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in docs/reliability.md")
    parser.add_argument(
        "--junit",
        metavar="FILE",
        help="count an existing JUnit XML (e.g. a whole-suite run) instead of running the selections",
    )
    args = parser.parse_args(argv)
    if args.junit:
        if not Path(args.junit).is_file():
            parser.error(f"no such file: {args.junit}")
        rows = count(args.junit)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            rows = run_tests(workdir)
    source = (
        f"a whole-suite run's JUnit XML ({database_in_use()})" if args.junit else "the selections run by this module"
    )
    table = render(rows, run_deploy_check(), run_pip_audit(), source)
    print(table)
    if args.write:
        write(table)
    return 0 if all(verdict != "FAILED" for *_rest, verdict in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
