"""Backups and restore around the real service on the fake Telegram: the service backs up at
start and when one is due, `chanwatch backup` works while posts pour in, and the backup
restored gives the service back every post it held; `chanwatch restore` refuses while the
service runs; a failing backup tells the admins once, and again when it works."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.store.backup import backups, integrity_problem
from tests.support.fakes import child_env, run_cli
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until


def rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT id, channel_id, message_id, text, source FROM posts ORDER BY id")]
    finally:
        conn.close()


async def test_the_service_backs_up_at_start_and_when_due(env: Env) -> None:
    folder = env.data_dir / "backups"

    async def one() -> bool:
        return folder.is_dir() and len(backups(folder)) == 1
    await wait_until(one)
    [first] = backups(folder)
    assert integrity_problem(first.path) is None
    # not due again yet: a restart within the interval takes none
    await env.stop_app()
    await env.start_app()
    assert await env.running.backups.run() is None
    assert len(backups(folder)) == 1


async def test_a_backup_taken_under_load_restores_what_it_held(env: Env, tmp_path: Path) -> None:
    await ask(env, env.admin, "/watch @news_test")
    cli_env = child_env(env.data_dir)

    async def pour() -> None:
        for i in range(150):
            env.world.post(env.news, f"Пост номер {i} про обстановку")
            await asyncio.sleep(0.005)

    pouring = asyncio.create_task(pour())
    await asyncio.sleep(0.2)
    code, out, err = await run_cli(["backup"], cli_env, tmp_path)
    await pouring
    assert code == 0, err
    assert "integrity ok" in err
    backup = Path(out.strip())
    assert backup.parent == env.data_dir / "backups" and integrity_problem(backup) is None

    async def all_stored() -> bool:
        return await env.count("SELECT COUNT(*) FROM posts") >= 151
    await wait_until(all_stored, within=20)
    # a consistent moment: every post the backup holds is in the live database as it was
    held, live = rows(backup), rows(env.running.settings.database_path)
    assert held and set(held) <= set(live)
    assert [r[0] for r in held] == list(range(held[0][0], held[-1][0] + 1))  # no gap
    # restore refuses while the service runs
    code, _, err = await run_cli(["restore", str(backup)], cli_env, tmp_path)
    assert code == 1 and "the service is running" in err
    # stopped, it goes ahead and keeps the database it replaced
    await env.stop_app()
    code, _, err = await run_cli(["restore", str(backup)], cli_env, tmp_path)
    assert code == 0, err
    assert "before-restore-" in err
    kept = list(env.data_dir.glob("chanwatch.sqlite3.before-restore-*"))
    assert len([p for p in kept if not p.name.endswith(("-wal", "-shm"))]) == 1
    await env.start_app()
    assert await env.count("SELECT COUNT(*) FROM posts") == len(held)
    # and the service catches up what came after the backup: nothing is missing
    await wait_until(all_stored, within=30)
    assert {r[2] for r in rows(env.running.settings.database_path)} >= {r[2] for r in live}


async def test_bad_input_to_backup_and_restore(env: Env, tmp_path: Path) -> None:
    cli_env = child_env(env.data_dir)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not sqlite" * 100)
    await env.stop_app()
    for args, code, message in (
            (["restore", str(junk)], 1, "is not a good backup"),
            (["restore", str(tmp_path / "none.sqlite3")], 1, "no such file"),
            (["backup", "--db", str(tmp_path / "none.sqlite3")], 1, "no database at"),
            (["backup", "--keep", "0"], 2, "--keep must be at least 1")):
        got, out, err = await run_cli(args, cli_env, tmp_path)
        assert (got, out) == (code, "") and message in err and err.count("\n") == 1, err
    await env.start_app()


async def test_a_failing_backup_tells_the_admins_once_then_that_it_works(env: Env) -> None:
    await ask(env, env.admin, "/start")
    job = env.running.backups

    async def started() -> bool:  # the backup taken at start is done
        return job.last is not None
    await wait_until(started)
    for old in backups(job.folder):
        old.path.unlink()
    job.folder.rmdir()
    job.folder.write_text("a file where the folder should be")  # every backup now fails
    assert await job.run() is None
    assert await job.run() is None
    await wait_for(lambda: any("database backup failed" in t for t in env.notices_to(ADMIN)))
    await asyncio.sleep(0.3)
    assert sum("database backup failed" in t for t in env.notices_to(ADMIN)) == 1
    job.folder.unlink()
    assert await job.run() is not None
    await wait_for(lambda: any("backups work again" in t for t in env.notices_to(ADMIN)))


async def test_vacuum_refuses_while_the_service_runs_and_works_after(env: Env,
                                                                     tmp_path: Path) -> None:
    cli_env = child_env(env.data_dir)
    code, _, err = await run_cli(["vacuum"], cli_env, tmp_path)
    assert code == 1 and "the service is running" in err
    await env.stop_app()
    code, _, err = await run_cli(["vacuum"], cli_env, tmp_path)
    assert code == 0 and "vacuumed:" in err, err
    await env.start_app()
