"""/health and `chanwatch health --verbose`, on the real service and the fake Telegram: both
clients, the last update and catch-up, each channel's newest id against the stored one and
how long it has been behind, the outbox and dead letters, media, sizes, free disk."""

from __future__ import annotations

from pathlib import Path

from telethon.tl import functions

from tests.support.fakes import child_env, run_cli
from tests.support.harness import Env, ask, wait_for
from tests.support.images import noise_jpeg


async def test_health_tells_the_admin_what_is_working(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    env.world.post(env.news, "Свежий пост", media="photo", media_data=noise_jpeg(5))
    await wait_for(lambda: env.running.last_update_at is not None)
    await env.running.run_reconcile("test")
    reply = await ask(env, env.admin, "/health")
    assert reply.startswith("🩺 chanwatch ") and " health" in reply.splitlines()[0]
    assert "user account: connected; bot: connected" in reply
    assert "last update from Telegram: " in reply and "last update from Telegram: never" \
        not in reply
    assert "last successful catch-up: " in reply and "catch-up: never" not in reply
    assert "channels: 1 watched, 0 behind" in reply
    assert "@news_test: newest 2, stored 2" in reply
    assert "outbox: 0 pending; 0 dead letters" in reply
    assert "media: " in reply and " to download" in reply
    assert "database " in reply and "free disk " in reply


async def test_a_channel_that_falls_behind_shows_by_how_much_and_how_long(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    env.world.fail_channel(env.news.id, functions.messages.GetHistoryRequest, "INTERNAL",
                           code=500)
    env.world.post(env.news, "Пропущенный пост", deliver=False)
    env.world.post(env.news, "И ещё один", deliver=False)
    await env.running.run_reconcile("test")
    reply = await ask(env, env.admin, "/health")
    assert "channels: 1 watched, 1 behind" in reply
    assert "@news_test: newest 3, stored 1, behind 2 for " in reply
    env.world.heal_channel(env.news.id)
    await env.running.run_reconcile("test")
    assert "channels: 1 watched, 0 behind" in await ask(env, env.admin, "/health")


async def test_health_is_for_admins(env: Env) -> None:
    reply = await ask(env, env.stranger, "/health")
    assert "🩺" not in reply


async def test_the_command_line_prints_the_same_report(env: Env, tmp_path: Path) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await env.running.run_heartbeat()  # status.json as the service writes it every 30 s
    code, out, err = await run_cli(["health", "--verbose"], child_env(env.data_dir), tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("healthy: last heartbeat")
    assert lines[1].startswith("chanwatch ") and lines[1].endswith(" health")
    assert "user account: connected; bot: connected" in out
    assert "channels: 1 watched, 0 behind" in out and "outbox: 0 pending" in out
    # without a service: what the database says, and no status
    await env.stop_app()
    (env.data_dir / "status.json").unlink()
    (env.data_dir / "heartbeat").unlink()
    code, out, _ = await run_cli(["health", "--verbose"], child_env(env.data_dir), tmp_path)
    assert code == 1 and out.startswith("unhealthy: no heartbeat")
    assert "service: no status (not running, or not started yet)" in out
    assert "channels: 1 watched" in out
    await env.start_app()


async def test_the_service_warns_the_admins_once_and_once_when_it_clears(env: Env) -> None:
    await ask(env, env.admin, "/start")
    await env.stop_app()
    env.settings["DISK_FREE_MIN_GB"] = "1000000000"  # more than any disk: the floor is crossed
    await env.start_app()
    await env.running.run_warnings()
    await env.running.run_warnings()
    await wait_for(lambda: any("GB free on the data volume" in t
                               for t in env.notices_to(env.admin.id)))
    assert sum("GB free on the data volume" in t for t in env.notices_to(env.admin.id)) == 1
    env.running.warnings.disk_free_min = 0  # the operator lowered the floor
    await env.running.run_warnings()
    await wait_for(lambda: any("has room again" in t for t in env.notices_to(env.admin.id)))
