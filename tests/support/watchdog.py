"""A test that hangs says where: every thread's stack and every pending asyncio task's.

pytest-timeout (``timeout`` in pyproject.toml) fails a test that runs far too long, so one hang
costs one red test instead of the whole CI run. Before that, this watchdog writes to the
terminal what was waiting on what: the threads' frames (faulthandler) and the stack of each
asyncio task still pending, which a thread dump alone does not show (a hung event loop sits in
``select`` with its tasks suspended).
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import io
import sys
import tempfile
import threading
from collections.abc import Callable

WATCHDOG_SECONDS = 90.0


def pending_tasks_report() -> str:
    """The stacks of every asyncio task not yet done, in whatever loop holds them."""
    out = io.StringIO()
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    for task in sorted(tasks, key=lambda t: t.get_name()):
        out.write(f"--- task {task.get_name()} ---\n")
        try:
            task.print_stack(limit=12, file=out)
        except Exception as exc:  # a task changing under us: diagnostics must not fail
            out.write(f"(stack unavailable: {exc!r})\n")
    return out.getvalue()


def threads_report() -> str:
    with tempfile.TemporaryFile("w+") as f:
        faulthandler.dump_traceback(file=f, all_threads=True)
        f.seek(0)
        return f.read()


class Watchdog:
    """Calls ``write`` with both reports if not cancelled within ``seconds``."""

    def __init__(self, name: str, write: Callable[[str], None],
                 seconds: float = WATCHDOG_SECONDS) -> None:
        self._name = name
        self._write = write
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._seconds = seconds

    def _fire(self) -> None:
        report = f"\n!!! {self._name} still running after {self._seconds:.0f} s\n"
        try:  # diagnostics must never become a failure of their own
            report += threads_report() + pending_tasks_report()
            self._write(report)
        except Exception as exc:
            if sys.__stderr__ is not None:
                sys.__stderr__.write(f"{report}(watchdog: {exc!r})\n")

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
