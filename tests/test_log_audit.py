"""The secret audit itself (tests/support/log_audit.py) catches what it is for: a secret in
a log line of this process, in an exception's text, and in a child process's log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tests.support.log_audit import SECRETS, MemoryAudit, audit_files, leaks, line_of


def test_a_secret_in_a_line_or_a_traceback_is_found() -> None:
    audit = MemoryAudit()
    record = logging.LogRecord("bot.x", logging.WARNING, __file__, 1, "token %s", ("TEST-TOKEN",),
                               None)
    audit.add(line_of(record))
    try:
        raise ValueError("bad phone +44 7700 900123")
    except ValueError:
        failed = logging.LogRecord("bot.x", logging.ERROR, __file__, 1, "login failed", (),
                                   sys.exc_info())
    audit.add(line_of(failed))
    audit.add(line_of(logging.LogRecord("bot.x", logging.INFO, __file__, 1, "fine", (), None)))
    assert audit.lines == 3 and len(audit.found) == 2
    assert leaks("nothing here") == [] and all(s in leaks(s) for s in SECRETS)


def test_a_child_process_log_is_audited(tmp_path: Path) -> None:
    env = dict(os.environ, CHANWATCH_LOG_AUDIT=str(tmp_path))
    code = ("import logging; logging.basicConfig(force=True);"
            " logging.getLogger('bot.y').warning('hash %s', '0123456789abcdef0123456789abcdef')")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    processes, lines, found = audit_files(tmp_path)
    assert (processes, lines) == (1, 1) and len(found) == 1 and "0123456789abcdef" in found[0]


def test_this_run_is_audited() -> None:
    """The suite's own set-up: child processes inherit the audit (tests/conftest.py)."""
    assert os.environ.get("CHANWATCH_LOG_AUDIT")
    assert "logaudit" in os.environ.get("PYTHONPATH", "")
    assert getattr(logging.Logger.callHandlers, "_chanwatch_audit", False)
