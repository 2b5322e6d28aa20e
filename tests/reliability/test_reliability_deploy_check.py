"""`manage.py check --deploy --fail-level WARNING` is clean with production settings (DEBUG off, a real
secret key), in a separate process as an operator runs it; and the same check does fail when a
production setting is wrong, so a clean result means something."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(tmp_path, **env):
    child = {k: v for k, v in os.environ.items() if not k.startswith("ONPREM_") and k not in ("SECRET_KEY", "DEBUG")}
    child.update(
        DJANGO_SETTINGS_MODULE="onprem.settings",
        ONPREM_DATA_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(60),
        DEBUG="0",
    )
    child.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=child,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.live
def test_check_deploy_is_clean_in_production_settings(tmp_path):
    done = _check(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.live
def test_check_deploy_fails_when_a_production_setting_is_wrong(tmp_path):
    done = _check(tmp_path, DEBUG="1")
    assert done.returncode != 0
    assert "security.W018" in done.stdout + done.stderr  # DEBUG on in deployment
