"""/export in a chat: the handler over a real store (small injected gzip threshold and size
limit), through the command router, and end to end on the fake Telegram as a document."""

from __future__ import annotations

import csv
import gzip
import io
import json
from zoneinfo import ZoneInfo

import pytest

from bot.archive.export import COLUMNS
from bot.commands import Reply, Services, syntax_error_reply
from bot.commands.context import CommandContext
from bot.commands.export import USAGE_EXPORT, export_reply
from bot.guard import CommandRouter, Incoming
from bot.match import RuleSyntaxError, parse_rule
from bot.models import ChatKind, Role
from bot.services.access import AccessService
from bot.services.watch import WatchService
from tests.archive import test_export as base
from tests.archive.test_export import CHAT, OTHER, Rig
from tests.support.fakes import NoTelegram
from tests.support.harness import ADMIN, Env, wait_for, wait_until

BIG = 10 * 1024 * 1024
# the same store as test_export.py: posts, edits, deletions and rules of two chats
places_cache, places, rig = base.places_cache, base.places, base.rig


def _services(rig: Rig, *, archive: bool = True) -> Services:
    return Services(rig.store, AccessService(rig.store, frozenset({CHAT})),
                    WatchService(rig.store, NoTelegram()), rig.rules, ZoneInfo("UTC"),
                    clock=rig.clock, archive=rig.search if archive else None)


async def _ask(rig: Rig, args: str, *, chat: int = CHAT, gzip_above: int = BIG,
               limit: int = BIG, archive: bool = True) -> str | Reply:
    ctx = CommandContext(chat, chat, ChatKind.PRIVATE, None, args, Role.MEMBER)
    return await export_reply(ctx, _services(rig, archive=archive), gzip_above=gzip_above,
                              limit=limit)


def _rows(data: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


async def test_export_csv_sends_a_file_with_this_chats_rules(rig: Rig) -> None:
    reply = await _ask(rig, "csv Белгород")
    assert isinstance(reply, Reply) and reply.file is not None and not reply.photo
    assert reply.file_name == "chanwatch-20261122-0905.csv"
    assert reply.html == ("📦 <b>8</b> posts matching <code>Белгород</code>,"
                          " 2026-11-20 09:00 – 2026-11-20 17:00 UTC, oldest first (CSV).")
    rows = _rows(reply.file)
    assert len(rows) == 8
    assert {r["matched_rules"] for r in rows} <= {f"{CHAT}#1", f"{CHAT}#1 {CHAT}#2"}
    other = await _ask(rig, "csv дрон", chat=OTHER)
    assert isinstance(other, Reply) and other.file is not None
    assert [r["matched_rules"] for r in _rows(other.file)] == [f"{OTHER}#1"] * 2
    assert other.html.startswith("📦 <b>2</b> posts matching <code>дрон</code>,")


async def test_export_in_the_chats_time_zone_and_period(rig: Rig) -> None:
    await rig.store.chats.set_tz(CHAT, "Europe/Kyiv")
    reply = await _ask(rig, "jsonl since 2026-11-20 12:00 until 2026-11-20")
    assert isinstance(reply, Reply) and reply.file is not None
    assert reply.file_name == "chanwatch-20261122-1105.jsonl"
    # 12:00 Kyiv is 10:00 UTC; until a date: that whole day (local)
    records = [json.loads(line) for line in reply.file.decode().splitlines()]
    assert [r["message_id"] for r in records] == [5, 2, 6, 9, 7, 3, 10, 11]
    assert reply.html == ("📦 <b>8</b> posts, 2026-11-20 12:00 – 2026-11-20 19:00 EET,"
                          " oldest first (JSON lines).")


async def test_export_is_gzipped_past_the_threshold(rig: Rig) -> None:
    plain = await _ask(rig, "jsonl Белгород", gzip_above=BIG)
    zipped = await _ask(rig, "jsonl Белгород", gzip_above=500)
    assert isinstance(plain, Reply) and isinstance(zipped, Reply)
    assert plain.file is not None and zipped.file is not None
    assert zipped.file_name is not None and zipped.file_name.endswith(".jsonl.gz")
    assert zipped.html.endswith("(JSON lines, gzip).")
    assert gzip.decompress(zipped.file) == plain.file  # the same lines, compressed
    assert len(plain.file) > 500


async def test_export_above_the_limit_is_refused_pointing_at_the_cli(rig: Rig) -> None:
    reply = await _ask(rig, "csv Белгород since 2026-11-20", gzip_above=200, limit=400)
    assert isinstance(reply, str)
    assert reply.startswith("⚠️ This export is larger than 400 bytes even gzipped, more than"
                            " Telegram lets a bot send.")
    assert reply.endswith("<code>chanwatch export --format csv &#x27;Белгород&#x27; --since"
                          " &#x27;2026-11-20 00:00&#x27; --tz UTC -o export.csv</code>")
    whole = await _ask(rig, "jsonl", gzip_above=200, limit=400)
    assert isinstance(whole, str)
    assert "<code>chanwatch export --format jsonl -o export.jsonl</code>" in whole


async def test_clear_lines_for_nothing_found_and_bad_input(rig: Rig) -> None:
    assert await _ask(rig, "csv Владивосток") == (
        "📦 No stored post matching <code>Владивосток</code> in that period, nothing to export.")
    assert await _ask(rig, "csv Белгород since 1d") == (
        "📦 No stored post matching <code>Белгород</code> in that period, nothing to export.")
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule("Белгород AND (")
    assert await _ask(rig, "csv Белгород AND (") == syntax_error_reply(caught.value)
    for args in ("", "xml Белгород", "gexf Белгород"):
        assert await _ask(rig, args) == USAGE_EXPORT
    assert await _ask(rig, "csv Белгород since вчера") == (
        "⚠️ cannot read the time &#x27;вчера&#x27;: use 7d, 24h, 2026-11-01 or 2026-11-01 18:00")
    reply = await _ask(rig, "csv region:Атлантида")
    assert isinstance(reply, str) and reply.startswith("⚠️ ")
    assert await _ask(rig, "csv Белгород", archive=False) == (
        "Export is not available on this instance.")


async def test_export_is_a_registered_member_command(rig: Rig) -> None:
    router = CommandRouter(_services(rig), rig.clock, bot_username="chanwatch_bot")
    reply = await router.handle(Incoming("/export csv дрон", CHAT, CHAT, ChatKind.PRIVATE, None))
    assert isinstance(reply, Reply) and reply.file is not None and len(_rows(reply.file)) == 2
    help_text = await router.handle(Incoming("/help", CHAT, CHAT, ChatKind.PRIVATE, None))
    assert help_text is not None and "/export csv|jsonl" in str(help_text)


async def test_export_end_to_end_sends_a_document(env: Env) -> None:
    reply_to_watch = env.world.private_message(env.bot, env.admin, "/watch @news_test")
    await wait_for(lambda: any(m.reply_to == reply_to_watch.id
                               for m in env.world.sent_to(ADMIN)))
    env.world.post(env.news, "Сбит беспилотник над Белгородом, \"обломки\"\nупали")
    env.world.post(env.news, "Курс рубля и погода")

    async def stored() -> bool:
        return await env.count("SELECT COUNT(*) FROM posts") >= 3
    await wait_until(stored)
    message = env.world.private_message(env.bot, env.admin, "/export csv Белгород")

    def sent() -> list[object]:
        return [m for m in env.world.sent_to(ADMIN)
                if m.reply_to == message.id and m.document is not None]
    await wait_for(sent)
    (document,) = [m for m in env.world.sent_to(ADMIN) if m.reply_to == message.id]
    assert document.document is not None and document.file_name is not None
    assert document.file_name.startswith("chanwatch-") and document.file_name.endswith(".csv")
    assert document.text.startswith("📦 2 posts matching Белгород, ")
    rows = _rows(document.document)
    assert [r["text"] for r in rows] == ["Старый пост до подписки про Белгород",
                                         "Сбит беспилотник над Белгородом, \"обломки\"\nупали"]
    assert [r["source"] for r in rows] == ["backfill", "live"]
    assert rows[1]["channel_username"] == "news_test" and rows[1]["matched_rules"] == ""
