"""The suite's secret audit: every log line any test produces — in the test process and in
every process a test starts — is checked for the secrets the tests use (tokens, the API hash,
phone numbers, passwords, webhook paths, API keys). A line holding one fails the run.

Records are taken after their handlers ran (so a redacting filter the product installs has
done its work) by wrapping ``logging.Logger.callHandlers``, which ``basicConfig(force=True)``
cannot remove."""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

# What the tests use as secrets (tests/support/harness.py, test_login.py, test_web.py,
# test_translate.py, test_e2e_reach.py, test_config.py): none may ever reach a log line.
SECRETS = (
    "TEST-TOKEN", "TEST-token_x", "0123456789abcdef0123456789abcdef",
    "+44 7700 900123", "447700900123", "7700 900123", "correct horse battery staple",
    "secret-token", "s3cret-key", "abc-123:fx",
)


def line_of(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format: check both parts
        message = f"{record.msg!r} {record.args!r}"
    text = f"{record.levelname} {record.name}: {message}"
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(traceback.format_exception(*record.exc_info))
    return text


def _wrap(sink: Callable[[str], None]) -> None:
    original = logging.Logger.callHandlers
    if getattr(original, "_chanwatch_audit", False):
        return

    def call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
        original(self, record)
        try:
            sink(line_of(record))
        except Exception:  # the audit must never break what it watches
            pass

    call_handlers._chanwatch_audit = True  # type: ignore[attr-defined]
    logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]


def install_file_audit(folder: str) -> None:
    """In a child process: append every log line to ``folder/<pid>.log``."""
    path = Path(folder) / f"{os.getpid()}.log"
    lock = threading.Lock()

    def sink(text: str) -> None:
        with lock, path.open("a", encoding="utf-8") as f:
            f.write(text.replace("\n", "\n\t") + "\n")

    _wrap(sink)


class MemoryAudit:
    """In the test process: keep the lines that hold a secret, count the rest."""

    def __init__(self) -> None:
        self.lines = 0
        self.found: list[str] = []
        self._lock = threading.Lock()

    def install(self) -> None:
        _wrap(self.add)

    def add(self, text: str) -> None:
        with self._lock:
            self.lines += 1
            if leaks(text):
                self.found.append(text)


def leaks(text: str, secrets: Iterable[str] = SECRETS) -> list[str]:
    """The secrets ``text`` holds."""
    return [s for s in secrets if s in text]


def audit_files(folder: Path) -> tuple[int, int, list[str]]:
    """(processes, lines, lines holding a secret) of the child processes' logs."""
    processes = lines = 0
    found = []
    for path in sorted(folder.glob("*.log")):
        processes += 1
        for entry in path.read_text(encoding="utf-8", errors="replace").split("\n"):
            if not entry or entry.startswith("\t"):
                continue
            lines += 1
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.name}: {e}" for e in text.split("\n") if leaks(e)]
    return processes, lines, found
