"""The ``chanwatch`` program as a process: exit codes, messages, SIGTERM, health."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from bot.sandbox import FakeTelegram
from bot.store.migrate import discover, migrations_dir
from tests.support.fakes import child_env, run_cli
from tests.support.harness import ADMIN, build_world, wait_for


async def test_help_lists_every_command(tmp_path: Path) -> None:
    code, out, _ = await run_cli(["--help"], child_env(tmp_path), tmp_path)
    assert code == 0
    for command in ("run", "login", "migrate", "health"):
        assert command in out


async def test_configuration_error_is_one_line_naming_the_key(tmp_path: Path) -> None:
    env = child_env(tmp_path, ADMIN_IDS="alice")
    code, _, err = await run_cli(["run"], env, tmp_path)
    assert code == 78
    assert err == ("chanwatch: configuration error: ADMIN_IDS: must be comma-separated numeric"
                   " Telegram user ids, got 'alice'\n")


async def test_run_without_login_exits_with_a_pointer_to_login(tmp_path: Path) -> None:
    code, _, err = await run_cli(["run"], child_env(tmp_path / "data"), tmp_path)
    assert code == 3
    assert "Run `chanwatch login` once first" in err
    assert not (tmp_path / "data" / "user.session").exists()  # nothing half-created


async def test_run_with_an_unauthorised_session_exits_3(tmp_path: Path) -> None:
    fake = await FakeTelegram.start()
    try:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        unlogged = fake.world.add_account(fake.world.add_user(1000, "Nobody"), logged_in=False)
        fake.write_session(unlogged, data_dir / "user.session")
        code, _, err = await run_cli(["run"], child_env(data_dir), tmp_path)
        assert code == 3 and "not logged in" in err
    finally:
        await fake.stop()


async def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    env = child_env(tmp_path / "data")
    code, out, _ = await run_cli(["migrate"], env, tmp_path)
    count = len(discover(migrations_dir()))
    assert code == 0 and f"{count} migration(s) applied" in out
    code, out, _ = await run_cli(["migrate"], env, tmp_path)
    assert code == 0 and "0 migration(s) applied" in out


async def test_sigterm_stops_the_service_cleanly_within_5s(tmp_path: Path) -> None:
    fake = await FakeTelegram.start()
    proc = None
    try:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        world, accounts = build_world(fake, data_dir)
        admin = world.add_user(ADMIN, "Админ")
        env = child_env(data_dir)
        assert (await run_cli(["health"], env, tmp_path))[0] == 1  # nothing running yet
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)
        code, out, _ = await run_cli(["health"], env, tmp_path)
        assert code == 0 and out.startswith("healthy")
        world.private_message(accounts["bot"], admin, "/rules")
        await wait_for(lambda: world.sent_to(ADMIN), within=15)
        assert world.sent_to(ADMIN)[0].text.startswith("No rules in this chat yet.")

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, err.decode()
        assert elapsed < 5.0
        assert b"Traceback" not in err
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()
    assert fake.world.unscripted == []


async def test_match_filters_json_lines(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "text": "Дроны атаковали Шебекино"},
        {"id": 2, "text": "Учения с дронами у Шебекино"},
        {"id": "x", "text": "Дрон над Shebekino", "channel": "rybar"},
        {"id": 4, "text": "Погода"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "match", "дрон* AND (Шебекино OR Shebekino) NOT учения",
        cwd=tmp_path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0
    assert [json.loads(x) for x in out.decode().splitlines()] == [
        {"id": 1, "spans": [[0, 5], [16, 24]]},
        {"id": "x", "spans": [[0, 4], [9, 18]]},
    ]


async def test_match_reports_a_malformed_rule_and_bad_lines(tmp_path: Path) -> None:
    code, _, err = await run_cli(["match", "(дрон"], child_env(tmp_path), tmp_path)
    assert code == 2 and "expected ')' to close the '(' at character 1" in err
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "match", "дрон", cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    typed = 'not json\n{"id":1,"text":"дрон"}\n'.encode()
    out, err_bytes = await asyncio.wait_for(proc.communicate(typed), 60)
    assert proc.returncode == 1
    assert out.decode() == '{"id": 1, "spans": [[0, 4]]}\n'
    assert "line 1 skipped" in err_bytes.decode()


async def test_tag_regions_reads_json_lines(tmp_path: Path) -> None:
    lines = [{"id": 1, "text": "Под Грайвороном сбит беспилотник"},
             {"id": 2, "text": "Курс доллара вырос"},
             {"id": 3, "text": "Вибухи у Харкові та в Бєлгороді"}]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "tag-regions", cwd=tmp_path, env=child_env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode == 0, err.decode()
    rows = [json.loads(x) for x in out.decode().splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert rows[0]["regions"] == ["RU-BEL"]
    assert rows[0]["places"][0]["name"] == "Грайвороном"
    assert rows[0]["places"][0]["span"] == [4, 15]
    assert rows[1] == {"id": 2, "regions": [], "places": []}
    assert rows[2]["regions"] == ["RU-BEL", "UA-63"]


async def test_match_understands_region_rules(tmp_path: Path) -> None:
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": 1, "text": "Дроны атаковали Шебекино"}, {"id": 2, "text": "Дроны над Курском"},
    ]) + "\n"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "match", "region:belgorod дрон*", cwd=tmp_path,
        env=child_env(tmp_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode == 0, err.decode()
    assert [json.loads(x)["id"] for x in out.decode().splitlines()] == [1]
    code, _, err_text = await run_cli(["match", "region:Нигдеград"], child_env(tmp_path),
                                      tmp_path)
    assert code == 2 and "no place called 'Нигдеград' is known" in err_text
