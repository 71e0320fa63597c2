"""Logging: secrets masked in every record (message, arguments, exception text), JSON lines
parseable with their fields; and the real service writing JSON lines (LOG_FORMAT=json)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from pathlib import Path

import pytest

from bot.config import secrets_of, settings_from_mapping
from bot.logs import MASK, JsonFormatter, Redact, configure_logging
from bot.sandbox.server import FakeTelegram
from tests.support.fakes import child_env
from tests.support.harness import ADMIN, build_world, wait_for

TOKEN = "123456:" + "A" * 35  # what a bot token looks like (not one the tests use)


def emitted(fmt: logging.Formatter, *records: logging.LogRecord,
            secrets: tuple[str, ...] = ()) -> list[str]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(fmt)
    handler.addFilter(Redact(secrets))
    for record in records:
        handler.handle(record)
    return out.getvalue().splitlines()


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError(f"request with {TOKEN} for +380 67 123 45 67 failed")
        except RuntimeError:
            info = sys.exc_info()
    return logging.LogRecord("bot.test", logging.WARNING, __file__, 1, msg, args, info)


def test_secrets_tokens_and_phone_numbers_are_masked() -> None:
    lines = emitted(logging.Formatter("%(message)s"),
                    record("hash %s, url %s", "f" * 32, "https://hooks.example/T0/secretpath"),
                    record("bot %s and phone %s", TOKEN, "+44 20 7946 0958"),
                    record("failed", exc=True),
                    record("nothing to hide: post 123456 of channel 42"),
                    secrets=("f" * 32, "https://hooks.example/T0/secretpath"))
    text = "\n".join(lines)
    assert "f" * 32 not in text and "secretpath" not in text and TOKEN not in text
    assert "7946" not in text and "123 45 67" not in text
    assert lines[0] == f"hash {MASK}, url {MASK}"
    assert lines[1] == f"bot {MASK} and phone {MASK}"
    assert "RuntimeError: request with *** for *** failed" in text  # the traceback too
    assert lines[-1] == "nothing to hide: post 123456 of channel 42"


def test_json_lines_carry_time_level_logger_message_and_traceback() -> None:
    lines = emitted(JsonFormatter(), record("сбит %s", "дрон"), record("failed", exc=True))
    first, second = (json.loads(line) for line in (lines[0], "\n".join(lines[1:])))
    assert first["msg"] == "сбит дрон" and first["level"] == "WARNING"
    assert first["logger"] == "bot.test" and first["ts"].endswith("+00:00")
    assert "Traceback" in second["exc"] and TOKEN not in second["exc"]
    assert len(lines) == 2  # one object a line, the traceback inside it


def test_the_configured_secrets_are_the_ones_masked() -> None:
    s = settings_from_mapping({"TG_API_ID": "1", "TG_API_HASH": "ab" * 16,
                               "TG_BOT_TOKEN": "424242:zz-token_x", "ADMIN_IDS": "1",
                               "WEBHOOK_URL": "https://example.com/hook/abc",
                               "DEEPL_API_KEY": "deepl-key:fx"})
    assert set(secrets_of(s)) == {"ab" * 16, "424242:zz-token_x", "zz-token_x",
                                  "https://example.com/hook/abc", "deepl-key:fx"}
    assert s.log_format == "text"
    assert settings_from_mapping({"TG_API_ID": "1", "TG_API_HASH": "ab" * 16,
                                  "TG_BOT_TOKEN": "424242:zz-token_x", "ADMIN_IDS": "1",
                                  "LOG_FORMAT": "json"}).log_format == "json"


def test_configure_logging_installs_the_mask_and_the_format(
        capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers[:] = []  # pytest's own handlers stay out of basicConfig(force=True)'s reach
    try:
        configure_logging("INFO", "json", ["hunter2-secret"])
        logging.getLogger("bot.x").warning("password hunter2-secret")
        handler = root.handlers[0]
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, Redact) for f in handler.filters)
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert json.loads(err.strip().splitlines()[-1])["msg"] == f"password {MASK}"


async def test_the_service_logs_json_lines(tmp_path: Path) -> None:
    fake = await FakeTelegram.start()
    proc = None
    try:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        world, accounts = build_world(fake, data_dir)
        admin = world.add_user(ADMIN, "Админ")
        env = child_env(data_dir, LOG_FORMAT="json")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)
        world.private_message(accounts["bot"], admin, "/watch @nobody_here")
        await wait_for(lambda: world.sent_to(ADMIN), within=15)
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()
    lines = err.decode().splitlines()
    assert lines, "the service logged nothing"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(p["msg"].startswith("chanwatch started") for p in parsed)
    assert all({"ts", "level", "logger", "msg"} <= set(p) for p in parsed)
