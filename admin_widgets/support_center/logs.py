"""The server's log files for the Support Center: list, tail, search and download.

Only regular files directly inside ``settings.LOG_DIR`` whose names look like log files are
offered, and a name from a request is only ever looked up in that listing, never joined to
a path. Searches use ``grep -E`` (the guide: "a Linux extended grep regular expression") in a
subprocess with a time limit, so no pattern can hang a web worker.
"""

import re
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings

from core.errors import ServiceError

LOG_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.log(\.\d+)?$")
TAIL_BYTES = 64 * 1024  # what opening a log shows, and the most one poll returns
MAX_PATTERN = 200
MAX_MATCHES = 2000
GREP_SECONDS = 10
# The guide: "a predefined case-insensitive string ... This list of strings is currently not configurable."
QUICK_SEARCHES = ["error", "warning", "exception", "traceback", "failed", "denied", "timeout"]


@dataclass(frozen=True)
class LogFile:
    name: str
    path: Path
    size: int
    modified: datetime


def log_files():
    directory = Path(settings.LOG_DIR)
    files = []
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if LOG_NAME.match(path.name) and path.is_file() and not path.is_symlink():
                stat = path.stat()
                files.append(
                    LogFile(path.name, path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc))
                )
    return files


def find(name):
    for log in log_files():
        if log.name == name:
            return log
    raise ServiceError("Select a log file from the list.", field="log")


def tail(name, offset=None, max_bytes=TAIL_BYTES):
    """``(lines, next_offset)``: what was appended since ``offset``, or the last lines when None.

    A log that shrank (rotated or truncated) is read again from its start. Only whole lines
    are handed out; a half-written last line comes with the next poll.
    """
    log = find(name)
    size = log.path.stat().st_size
    if offset is None:
        start = max(0, size - max_bytes)
    elif offset > size:
        start = 0
    else:
        start = max(0, offset)
    with log.path.open("rb") as handle:
        handle.seek(start)
        data = handle.read(max_bytes)
    if offset is None and start > 0 and b"\n" in data:
        first_line_end = data.index(b"\n") + 1  # begin on a whole line
        data, start = data[first_line_end:], start + first_line_end
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        if cut:
            data = data[:cut]
        elif len(data) < max_bytes:
            data = b""  # one line still being written
    return data.decode("utf-8", "replace").splitlines(), start + len(data)


def _check_pattern(pattern):
    if not pattern or len(pattern) > MAX_PATTERN:
        raise ServiceError(f"Enter a regular expression of 1 to {MAX_PATTERN} characters.", field="pattern")
    if "\x00" in pattern or "\n" in pattern:
        raise ServiceError("The regular expression cannot contain line breaks.", field="pattern")


def _grep(pattern, args, stdin=None, path=None, ignore_case=False):
    command = ["grep", "-E", "-a"] + (["-i"] if ignore_case else []) + args + ["-e", pattern, "--"]
    if path is not None:
        command.append(str(path))
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=GREP_SECONDS, check=False)
    except subprocess.TimeoutExpired as error:
        raise ServiceError("The search took too long; narrow the expression.", field="pattern") from error
    if done.returncode == 2:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ServiceError(f"Invalid regular expression: {message[-1] if message else pattern}", field="pattern")
    return done.stdout.decode("utf-8", "replace").splitlines()


def search(name, pattern, ignore_case=False):
    """``[(line_number, text)]`` of the lines of the whole log matching ``pattern`` (at most MAX_MATCHES)."""
    _check_pattern(pattern)
    log = find(name)
    matches = []
    for line in _grep(pattern, ["-n", "-m", str(MAX_MATCHES)], path=log.path, ignore_case=ignore_case):
        number, _, text = line.partition(":")
        matches.append((int(number), text))
    return matches


def quick_search(name, key):
    if key not in QUICK_SEARCHES:
        raise ServiceError("Select a quick search from the list.", field="quick")
    return search(name, re.escape(key), ignore_case=True)


def filter_lines(lines, pattern):
    """The lines matching ``pattern`` (the live tail's Filter Realtime Text)."""
    if not pattern:
        return lines
    _check_pattern(pattern)
    if not lines:
        return []
    return _grep(pattern, [], stdin="\n".join(lines).encode() + b"\n")


def zip_all():
    """A temporary file holding every log in one zip archive (the caller streams and closes it)."""
    archive = tempfile.TemporaryFile()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for log in log_files():
            bundle.write(log.path, arcname=log.name)
    archive.seek(0)
    return archive
