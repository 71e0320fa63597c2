"""One bad channel never stops the others.

Every error class Telegram answers about one channel is injected, each on its own channel,
at each step that reads channels (getPeerDialogs and getHistory while catching up at start,
getHistory during a backfill, channels.getMessages in the deletion check, joining on /watch),
between channels that work. The channels that work are caught up in the same run; each bad
one changes status (or, for an error that may pass, stays watched and is retried), and the
admins hear of each once — not again at the next reconcile or reconnect.
"""

from __future__ import annotations

import datetime as dt

import pytest
from telethon.tl import functions

from bot.sandbox.world import FakeChannel
from bot.services.reconcile import FAILING_AFTER
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until

# (Telegram's error, its code, the channel's status afterwards)
ERRORS = [
    ("CHANNEL_PRIVATE", 400, "private"),
    ("CHANNEL_BANNED", 400, "private"),
    ("USER_BANNED_IN_CHANNEL", 400, "private"),
    ("CHAT_FORBIDDEN", 403, "private"),
    ("CHANNEL_PUBLIC_GROUP_NA", 403, "private"),
    ("CHANNEL_INVALID", 400, "deleted"),
    ("PEER_ID_INVALID", 400, "deleted"),
    ("CHAT_ID_INVALID", 400, "deleted"),
    ("FAKE_SOMETHING_ODD", 400, "active"),  # unknown to chanwatch: may pass, tried again
]
BASE = 880000


def channel_name(i: int, bad: bool) -> str:
    return f"{'bad' if bad else 'good'}_chan_{i}"


async def watch_all(env: Env) -> tuple[list[FakeChannel], list[FakeChannel]]:
    """Good and bad channels alternate by id, so a bad one sits before every good one."""
    await env.stop_app()
    env.settings["SEND_RATE_CHAT"] = "50/s"  # ~20 messages to one admin: no 1/s pacing here
    await env.start_app()
    good, bad = [], []
    for i in range(len(ERRORS) + 1):
        good.append(env.world.add_channel(BASE + 2 * i, f"Хороший {i}", channel_name(i, False)))
        if i < len(ERRORS):
            bad.append(env.world.add_channel(BASE + 2 * i + 1, f"Плохой {i}",
                                             channel_name(i, True)))
    for ch in sorted(good + bad, key=lambda c: c.id):
        assert "Watching" in await ask(env, env.admin, f"/watch @{ch.username}")
    await ask(env, env.admin, "/alert Белгород")
    return good, bad


def trouble_notices(env: Env) -> list[str]:
    return [t for t in env.notices_to(ADMIN) if t.startswith("⚠️ Channel")]


async def status(env: Env, channel_id: int) -> str:
    channel = await env.running.store.channels.get(channel_id)
    assert channel is not None
    return channel.status


async def assert_bad_channels_handled(env: Env, bad: list[FakeChannel]) -> None:
    """Each unreadable channel changed status and was announced once; the odd one was not."""
    for ch, (error, _, expected) in zip(bad, ERRORS, strict=True):
        assert await status(env, ch.id) == expected, error
    changed = [ch for ch, (_, _, s) in zip(bad, ERRORS, strict=True) if s != "active"]
    await wait_for(lambda: len(trouble_notices(env)) == len(changed))
    notices = trouble_notices(env)
    for ch in changed:
        assert sum(ch.title in n for n in notices) == 1, (ch.title, notices)


async def assert_told_once_more_on_repeat_failures(env: Env, odd: FakeChannel) -> None:
    """Reconciles and a reconnect later, the admins were told nothing twice."""
    before = len(trouble_notices(env))
    for _ in range(FAILING_AFTER):
        await env.running.run_reconcile("schedule")
    env.fake.drop_connections()
    await wait_for(lambda: any(r.reason == "reconnect" for r in env.running.reconciler.reports),
                   within=15)
    await env.running.run_reconcile("schedule")
    # the channel whose error may pass: one notice after FAILING_AFTER failed runs, no more
    await wait_for(lambda: len(trouble_notices(env)) == before + 1)
    [failing] = [n for n in trouble_notices(env) if odd.title in n]
    assert "could not be read" in failing and "still watched" in failing
    assert len(trouble_notices(env)) == before + 1


@pytest.mark.parametrize("request_class", [functions.messages.GetPeerDialogsRequest,
                                           functions.messages.GetHistoryRequest],
                         ids=["getPeerDialogs", "getHistory"])
async def test_catch_up_at_start_survives_every_channel_error(env: Env,
                                                              request_class: type) -> None:
    good, bad = await watch_all(env)
    await env.stop_app()
    for ch in good + bad:  # everyone posts while chanwatch is down
        env.world.post(ch, f"Белгород: новость канала {ch.title}")
    for ch, (error, code, _) in zip(bad, ERRORS, strict=True):
        env.world.fail_channel(ch.id, request_class, error, code=code)
    env.settings["DEDUP_WINDOW"] = "0"  # alike posts: each channel's alert, not "also in"
    env.settings["SEND_RATE_CHAT"] = "50/s"  # ~20 messages to one admin: no 1/s pacing here
    await env.start_app()
    await wait_for(lambda: env.running.reconciler.reports, within=20)
    report = env.running.reconciler.reports[0]
    assert report.reason == "start"
    # every good channel was caught up in that same run, the ones after a bad one too
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == len(good), within=20)
    alerted = "\n".join(a.text for a in env.alerts_to(ADMIN))
    assert all(f"новость канала {ch.title}" in alerted for ch in good)
    assert not any(f"новость канала {ch.title}" in alerted for ch in bad)
    served = {(c, r) for c, r, _ in env.world.failed_channel_reads}
    assert {(ch.id, request_class.__name__) for ch in bad} <= served  # each error was served
    await assert_bad_channels_handled(env, bad)
    assert report.failed == [bad[-1].id]
    await assert_told_once_more_on_repeat_failures(env, bad[-1])
    # once the odd error passes, the channel is caught up with nothing lost
    env.world.heal_channel(bad[-1].id)
    await env.running.run_reconcile("schedule")
    await wait_for(lambda: f"новость канала {bad[-1].title}" in
                   "\n".join(a.text for a in env.alerts_to(ADMIN)))


async def test_deletion_check_survives_every_channel_error(env: Env) -> None:
    good, bad = await watch_all(env)
    posted = {ch.id: env.world.post(ch, f"Пост канала {ch.title}") for ch in good + bad}
    await wait_until(lambda: _count(env, "SELECT COUNT(*) FROM posts WHERE message_id > 0",
                                    len(posted)))
    await env.stop_app()
    for ch in good + bad:  # deleted while chanwatch was down: nobody pushes it
        env.world.delete(ch, [posted[ch.id].id])
    await env.start_app()
    for ch, (error, code, _) in zip(bad, ERRORS, strict=True):
        env.world.fail_channel(ch.id, functions.channels.GetMessagesRequest, error, code=code)
    await env.running.run_deletion_check()
    for ch in good:  # every good channel's deletion was found in that same run
        assert await _deleted(env, ch.id, posted[ch.id].id), ch.title
    for ch in bad:
        assert not await _deleted(env, ch.id, posted[ch.id].id), ch.title
    await assert_bad_channels_handled(env, bad)
    before = len(trouble_notices(env))
    for _ in range(FAILING_AFTER):
        await env.running.run_deletion_check()
    await wait_for(lambda: len(trouble_notices(env)) == before + 1)
    await env.running.run_deletion_check()
    assert len(trouble_notices(env)) == before + 1


async def test_backfill_of_a_channel_that_turns_unreadable(env: Env) -> None:
    await ask(env, env.admin, "/start")
    for i, (error, code, expected) in enumerate(ERRORS):
        ch = env.world.add_channel(BASE + 100 + i, f"Архив {i}", f"archive_chan_{i}")
        for n in range(3):
            env.world.post(ch, f"Старый пост {n}", deliver=False)
        # the join and its newest id work; the history read right after fails
        env.world.fail_channel(ch.id, functions.messages.GetHistoryRequest, error, code=code,
                               after=1)
        assert "Watching" in await ask(env, env.admin, f"/watch @{ch.username}")
        await wait_for(lambda ch=ch: any(
            ch.title in t and "Backfill" in t for t in env.notices_to(ADMIN)), within=15)
        [said] = [t for t in env.notices_to(ADMIN) if ch.title in t and "Backfill" in t]
        assert "stopped" in said or "failed" in said, said
        assert await status(env, ch.id) == expected, error
        if expected != "active":  # the admins hear once that it is no longer watched
            assert sum(t.startswith("⚠️ Channel") and ch.title in t
                       for t in env.notices_to(ADMIN)) == 1
    good = env.world.add_channel(BASE + 200, "Рабочий архив", "working_archive")
    env.world.post(good, "Старый пост рабочего канала", deliver=False)
    await ask(env, env.admin, "/watch @working_archive")
    await wait_for(lambda: any("Рабочий архив" in t and "done" in t
                               for t in env.notices_to(ADMIN)), within=15)


@pytest.mark.parametrize(("error", "code", "expected"), ERRORS, ids=[e for e, _, _ in ERRORS])
async def test_watch_gives_a_clear_reply_for_every_join_error(
    env: Env, error: str, code: int, expected: str
) -> None:
    ch = env.world.add_channel(BASE + 300, "Недоступный", "refusing_chan")
    env.world.fail_channel(ch.id, functions.channels.JoinChannelRequest, error, code=code)
    reply = await ask(env, env.admin, "/watch @refusing_chan")
    assert reply.startswith("⚠️") and "Недоступный" in reply, reply
    assert "Traceback" not in reply and "Error" not in reply, reply
    assert await env.count("SELECT COUNT(*) FROM channels WHERE id = ? AND status = 'active'",
                           ch.id) == 0
    # the next /watch of a channel that works is not affected
    assert "Watching" in await ask(env, env.admin, "/watch @news_test")


async def _count(env: Env, sql: str, expected: int) -> bool:
    return await env.count(sql) >= expected


async def _deleted(env: Env, channel_id: int, message_id: int) -> bool:
    return await env.count("SELECT COUNT(*) FROM posts WHERE channel_id = ? AND message_id = ?"
                           " AND deleted_at IS NOT NULL", channel_id, message_id) == 1


_ = dt  # the module's tests compare statuses, not times
