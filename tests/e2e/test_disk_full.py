"""A full disk, simulated with SQLite's max_page_count on the service's own connection: live
posts are not stored and nothing already stored is lost; the admins are told once, straight
through the bot (the outbox cannot be written); when there is room again they are told, and
the posts missed meanwhile are caught up and alerted."""

from __future__ import annotations

from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until


async def posts(env: Env) -> list[int]:
    rows = await env.running.database.fetchall(
        "SELECT message_id FROM posts WHERE channel_id = ? ORDER BY message_id", (env.news.id,))
    return [int(r[0]) for r in rows]


async def test_a_full_disk_stops_storing_tells_the_admins_and_everything_resumes(
        env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert дрон")
    first = env.world.post(env.news, "Первый дрон, до того как диск заполнился")
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 1)
    stored_before = await posts(env)
    db = env.running.database
    pages = (await db.fetchall("PRAGMA page_count"))[0][0]
    await db.fetchall(f"PRAGMA max_page_count = {pages}")  # no page more: the disk is "full"
    # long posts: each needs new pages (short ones could fit in pages' free space)
    filler = " ".join(f"слово{i}" for i in range(600))
    missed = [env.world.post(env.news, f"Дрон номер {i}, пока диск полон. {filler}")
              for i in range(3)]
    await wait_for(lambda: any("The disk is full" in t for t in env.texts_to(ADMIN)),
                   within=10)
    assert db.full
    assert await posts(env) == stored_before  # nothing lost, nothing half-written
    assert first.id in stored_before
    # more failing writes tell nobody again
    env.world.post(env.news, f"Ещё пост при полном диске. {filler}")
    await env.running.run_reconcile("test")
    assert sum("The disk is full" in t for t in env.texts_to(ADMIN)) == 1
    # room again: the next write that commits says so, and the catch-up fetches the rest
    await db.fetchall("PRAGMA max_page_count = 1073741823")
    after = env.world.post(env.news, "Дрон, когда место появилось")
    expected = sorted(env.news.messages)

    async def all_stored() -> bool:
        return await posts(env) == expected
    await wait_until(all_stored, within=30)
    assert not db.full
    await wait_for(lambda: any("can be written again" in t for t in env.texts_to(ADMIN)),
                   within=10)
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 1 + len(missed) + 1, within=20)
    assert {m.id for m in missed} | {after.id} <= set(expected)
