"""Multi-word names through the public entry points: a stored rule alerts on an inflected name
(RulesService + IngestService, the path every post takes) and ``chanwatch match`` finds it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.match import Lemmatizer
from bot.models import ChatKind, Post
from bot.regions.places import PlaceMatcher
from bot.render import render_alert
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store
from bot.store.event_json import parse_event
from tests.support.fakes import FakeClock

CHAT, CHANNEL = 21, 2001


async def test_rules_on_names_alert_on_their_inflected_forms(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer) -> None:
    await store.chats.upsert(CHAT, ChatKind.PRIVATE, None)
    await store.channels.add(CHANNEL, "front", "Front", None, None)
    rules = RulesService(store, lemmatizer, places=PlaceMatcher.shared(lemmatizer))
    await rules.rebuild()
    ingest = IngestService(store, rules, ZoneInfo("UTC"), clock, AdminNotifier(store, frozenset()))
    expressions = ["Часов Яр", '"Новая Каховка"', "кривой рог", "Старый Оскол -учения", "Часов"]
    for expression in expressions:
        await rules.add(CHAT, expression, CHAT)
    posts = [
        "В Часовом Яре идут бои",
        "Вибухи в Новій Каховці",
        "Ракетный удар по Кривому Рогу",
        "Дроны над Старым Осколом",
        "Старый Оскол: учения",  # excluded by its rule
        "Часовой пост у моста",  # Часов alone is not часовой
    ]
    for number, text in enumerate(posts, 1):
        await ingest.ingest(Post(CHANNEL, number, clock.now(), text,
                                 f"https://t.me/front/{number}", channel_username="front"))
    rows = await db.fetchall(
        "SELECT r.expression, p.message_id, m.spans FROM matches m JOIN rules r ON r.id = m.rule_id"
        " JOIN posts p ON p.id = m.post_id ORDER BY p.message_id")
    fired = [(r[0], r[1], [posts[r[1] - 1][s:e] for s, e in json.loads(r[2])]) for r in rows]
    assert fired == [
        ("Часов Яр", 1, ["Часовом Яре"]),
        ('"Новая Каховка"', 2, ["Новій Каховці"]),
        ("кривой рог", 3, ["Кривому Рогу"]),
        ("Старый Оскол -учения", 4, ["Старым Осколом"]),
    ]
    # the alerts as they will be sent: rendered from the events ingest stored
    payloads = [render_alert(event, ZoneInfo("UTC")) for r in await db.fetchall(
        "SELECT event FROM outbox WHERE kind = 'alert' ORDER BY id")
        if (event := parse_event(r[0])) is not None]
    assert len(payloads) == 4
    assert "<b>Часовом Яре</b>" in payloads[0]  # the whole name is bold
    assert "<b>Кривому Рогу</b>" in payloads[2]


async def test_chanwatch_match_finds_a_capitalised_name(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "text": "В Часовом Яре идут бои"},
        {"id": 2, "text": "Бої за Часів Яр"},
        {"id": 3, "text": "Часовой механизм"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "match", "Часов Яр", cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, err.decode()
    assert [json.loads(x) for x in out.decode().splitlines()] == [
        {"id": 1, "spans": [[2, 13]]},
        {"id": 2, "spans": [[7, 15]]},
    ]
