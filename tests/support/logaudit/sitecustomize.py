"""Loaded by every Python process the test suite starts (tests/conftest.py puts this folder on
PYTHONPATH): when CHANWATCH_LOG_AUDIT names a folder, every log record the process emits is
also written there, as its handlers finally saw it, for the suite's secret audit."""

from __future__ import annotations

import os

if os.environ.get("CHANWATCH_LOG_AUDIT"):
    from tests.support.log_audit import install_file_audit

    install_file_audit(os.environ["CHANWATCH_LOG_AUDIT"])
