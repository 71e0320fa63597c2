"""Logging set-up: plain lines or JSON lines (LOG_FORMAT), with secrets taken out.

Nothing the service logs should hold a secret in the first place (the suite audits every
log line it produces for the secrets the tests use: tests/support/log_audit.py). ``Redact``
is the second line: every record passes it before any handler writes it, and it replaces
the configured secrets (API hash, bot token, webhook URL, API keys, the web password), any
bot token (``123456:AA…``) and any phone number (``+`` and 9-15 digits) with ``***``, in
the message and in an exception's text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable

FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_BOT_TOKEN = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}")
_PHONE = re.compile(r"\+\d[\d ()-]{7,18}\d")
MASK = "***"


class Redact(logging.Filter):
    """Takes the secrets out of every record (message and exception text)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # longest first, so a secret that contains another is masked whole
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _PHONE.sub(MASK, _BOT_TOKEN.sub(MASK, text))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logged as they come
            message = f"{record.msg} {record.args}"
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC, ms), level, logger, msg, and exc with a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                   timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str, fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Set up stderr logging once, at start-up (never at import)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT))
    handler.addFilter(Redact(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Telethon logs every reconnect attempt at INFO; keep it to warnings unless debugging.
    if level != "DEBUG":
        logging.getLogger("telethon").setLevel(logging.WARNING)
    # httpx logs every request with its full URL, and webhook and translation URLs carry
    # secrets: never below WARNING, even when debugging
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # APScheduler logs every run of every job at INFO (the heartbeat, every few seconds)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
