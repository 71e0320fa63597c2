"""Export: CSV, JSON lines and the GEXF forward network over a real store filled through ingest
(edits by apply_edit, deletions by apply_deletions, matches by rules), the file /export sends
(gzip switch, size limit) and ``chanwatch export`` run in-process."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import networkx as nx
import pytest

from bot.archive.export import (
    COLUMNS,
    ArchiveAccess,
    TooLarge,
    UploadFile,
    export,
    forward_source,
    selection,
)
from bot.archive.search import ArchiveSearch
from bot.cli import main
from bot.match import Lemmatizer, RuleSyntaxError
from bot.models import ChatKind, Post
from bot.regions.places import PlaceMatcher
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store
from bot.store.export import ChannelName
from tests.support.fakes import FakeClock

CHAT, OTHER = 11, 12
A, B, C = 1001, 1002, 1003
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@dataclass
class Rig:
    store: Store
    db: Database
    clock: FakeClock
    ingest: IngestService
    rules: RulesService
    search: ArchiveSearch
    posts: dict[str, Post]

    @property
    def access(self) -> ArchiveAccess:
        return ArchiveAccess(self.store, self.search)

    async def run(self, query: str, fmt: str, *, chat_id: int | None = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None,
                  ) -> tuple[bytes, int]:
        out = io.BytesIO()
        summary = await export(self.access, selection(self.search, query, since, until), fmt,
                               out, chat_id=chat_id, batch=2)  # small batches: many of them
        return out.getvalue(), summary.posts


def _post(channel: int, mid: int, hours: int, text: str, **kw: object) -> Post:
    name = {A: "rian_ru", B: "bbbreaking", C: None}[channel]
    return Post(channel, mid, T0 + dt.timedelta(hours=hours), text,
                f"https://t.me/{name or 'c/' + str(channel)}/{mid}", channel_username=name,
                **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def places_cache(tmp_path_factory: pytest.TempPathFactory, lemmatizer: Lemmatizer) -> Path:
    """The compiled gazetteer the tools cache beside the database, compiled once."""
    cache = tmp_path_factory.mktemp("places-cache")
    PlaceMatcher.cached(lemmatizer, cache)
    return cache


@pytest.fixture(scope="session")
def places(lemmatizer: Lemmatizer, places_cache: Path) -> PlaceMatcher:
    return PlaceMatcher.cached(lemmatizer, places_cache)  # the tools' very cache


@pytest.fixture
async def rig(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
              places: PlaceMatcher) -> Rig:
    clock.current = T0 + dt.timedelta(days=2)
    for chat in (CHAT, OTHER):
        await store.chats.upsert(chat, ChatKind.PRIVATE, None)
    await store.channels.add(A, "rian_ru", "РИА Новости", None, None)
    await store.channels.add(B, "bbbreaking", "Раньше всех", None, None)
    await store.channels.add(C, None, "Закрытый канал", None, None)
    rules = RulesService(store, lemmatizer, places=places)
    await rules.add(CHAT, "Белгород", CHAT)  # CHAT #1
    await rules.add(CHAT, "дрон", CHAT)  # CHAT #2
    await rules.add(OTHER, "Белгород", OTHER)  # OTHER #1
    ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                           AdminNotifier(store, frozenset()))
    posts = {
        "drone": _post(A, 1, 0, 'Над Белгородом сбили дрон, "обломки", упали\nна окраине',
                       views=1500, forwards=12, fwd_from="channel:1002/5", media="photo"),
        "weather": _post(B, 5, 1, "Погода в Москве: дождь", views=300),
        "edited": _post(A, 2, 2, "В Белгороде тишина", grouped_id=77),
        "deleted": _post(B, 6, 3, "Белгород: обстрел окраин", reply_to=5),
        "private": _post(C, 9, 4, "Белгород и Курск", fwd_from="name:@someone/7"),
        "user": _post(B, 7, 5, "Слухи про Белгород", fwd_from="user:42"),
        "hidden": _post(A, 3, 6, "Белгород снова", fwd_from="hidden"),
        "named": _post(C, 10, 7, "Белгород без ссылки", fwd_from="name:Иван Петров"),
        "ours": _post(C, 11, 8, "Белгород от РИА", fwd_from="name:@RIAN_RU/1"),
    }
    for post in posts.values():
        await ingest.ingest(post, source="backfill" if post is posts["weather"] else "live")
    posts["edited"] = replace(posts["edited"], text="В Белгороде снова сбит дрон",
                              edit_date=T0 + dt.timedelta(hours=2, minutes=30))
    clock.advance(minutes=5)
    assert await ingest.apply_edit(posts["edited"])
    assert await ingest.apply_deletions(B, [6]) == 1
    await db.transaction(lambda conn: conn.execute(
        "UPDATE posts SET reactions = 40 WHERE message_id = 1 AND channel_id = ?", (A,)))
    return Rig(store, db, clock, ingest, rules, ArchiveSearch(store, lemmatizer, places), posts)


def _csv(data: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def _jsonl(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


async def test_csv_has_the_columns_in_order_oldest_first_with_every_rule(rig: Rig) -> None:
    data, n = await rig.run("Белгород", "csv")
    rows = _csv(data)
    assert n == len(rows) == 8  # every post but the weather
    assert [r["text"] for r in rows][:2] == [rig.posts["drone"].text, "В Белгороде снова сбит дрон"]
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    drone = rows[0]
    assert drone["post_id"].isdigit()
    assert {k: drone[k] for k in COLUMNS if k != "post_id"} == {
        "channel_id": str(A), "channel_username": "rian_ru", "channel_title": "РИА Новости",
        "message_id": "1", "date": "2026-11-20T09:00:00+00:00", "edit_date": "",
        "text": 'Над Белгородом сбили дрон, "обломки", упали\nна окраине',
        "views": "1500", "forwards": "12", "reactions": "40", "edits": "0", "deleted_at": "",
        "forwarded_from": "channel:1002/5", "reply_to": "", "grouped_id": "", "media": "photo",
        "matched_rules": f"{CHAT}#1 {CHAT}#2 {OTHER}#1", "regions": "RU-BEL",
        "link": "https://t.me/rian_ru/1", "source": "live", "image_text": ""}
    edited, deleted = rows[1], rows[2]
    assert (edited["edits"], edited["edit_date"], edited["grouped_id"]) == (
        "1", "2026-11-20T11:30:00+00:00", "77")
    # matches are what ingest recorded: a chat whose rules matched before the edit keeps
    # those matches (its rule 2 matches only the new text, and is not added)
    assert edited["matched_rules"] == f"{CHAT}#1 {OTHER}#1"
    assert deleted["deleted_at"] == "2026-11-22T09:05:00+00:00"
    assert deleted["reply_to"] == "5" and deleted["text"] == "Белгород: обстрел окраин"
    private = rows[3]
    assert (private["channel_username"], private["regions"]) == ("", "RU-BEL RU-KRS")


async def test_chat_export_names_only_that_chats_rules(rig: Rig) -> None:
    rows = _csv((await rig.run("дрон", "csv", chat_id=OTHER))[0])
    assert [r["matched_rules"] for r in rows] == [f"{OTHER}#1", f"{OTHER}#1"]
    rows = _csv((await rig.run("дрон", "csv", chat_id=CHAT))[0])
    assert [r["matched_rules"] for r in rows] == [f"{CHAT}#1 {CHAT}#2", f"{CHAT}#1"]
    assert [r["matched_rules"] for r in _csv((await rig.run("Москва", "csv"))[0])] == [""]


async def test_jsonl_has_typed_fields_rules_regions_and_versions(rig: Rig) -> None:
    data, n = await rig.run("Белгород", "jsonl")
    records = _jsonl(data)
    assert n == len(records) == 8
    assert all(list(r) == [*COLUMNS, "versions"] for r in records)
    drone, edited = records[0], records[1]
    assert drone["views"] == 1500 and drone["reply_to"] is None and drone["edit_date"] is None
    assert drone["matched_rules"] == [
        {"chat_id": CHAT, "rule": 1, "expression": "Белгород"},
        {"chat_id": CHAT, "rule": 2, "expression": "дрон"},
        {"chat_id": OTHER, "rule": 1, "expression": "Белгород"}]
    assert drone["regions"] == ["RU-BEL"] and drone["versions"] == []
    assert edited["text"] == "В Белгороде снова сбит дрон" and edited["edits"] == 1
    assert edited["versions"] == [{"text": "В Белгороде тишина", "edit_date": None,
                                   "replaced_at": "2026-11-22T09:05:00+00:00"}]


async def test_a_second_edit_adds_a_version_oldest_first(rig: Rig) -> None:
    rig.clock.advance(minutes=10)
    assert await rig.ingest.apply_edit(replace(rig.posts["edited"], text="Белгород: отбой",
                                               edit_date=T0 + dt.timedelta(hours=3)))
    (record,) = [r for r in _jsonl((await rig.run("Белгород", "jsonl"))[0])
                 if r["message_id"] == 2]
    assert record["edits"] == 2 and record["text"] == "Белгород: отбой"
    assert [v["text"] for v in record["versions"]] == [  # type: ignore[attr-defined]
        "В Белгороде тишина", "В Белгороде снова сбит дрон"]
    assert record["versions"][1]["edit_date"] == "2026-11-20T11:30:00+00:00"  # type: ignore[index]


async def test_no_query_exports_every_post_in_the_window(rig: Rig) -> None:
    records = _jsonl((await rig.run("", "jsonl"))[0])
    assert len(records) == 9 and {r["source"] for r in records} == {"live", "backfill"}
    window = _jsonl((await rig.run("", "jsonl", since=T0 + dt.timedelta(hours=1),
                                   until=T0 + dt.timedelta(hours=3)))[0])
    assert [r["message_id"] for r in window] == [5, 2]  # [since, until)
    assert (await rig.run("Белгород", "csv", since=T0 + dt.timedelta(days=5)))[1] == 0


async def test_nothing_matches_gives_a_header_only(rig: Rig) -> None:
    data, n = await rig.run("Владивосток", "csv")
    assert n == 0 and _csv(data) == []
    assert (await rig.run("Владивосток", "jsonl")) == (b"", 0)


async def test_malformed_query_and_bad_format_raise_before_writing(rig: Rig) -> None:
    with pytest.raises(RuleSyntaxError):
        selection(rig.search, "Белгород AND (", None, None)
    out = io.BytesIO()
    with pytest.raises(ValueError, match="unknown format"):
        await export(rig.access, selection(rig.search, "", None, None), "xml", out)
    assert out.getvalue() == b""


# ------------------------------------------------------------------ the forward network
def test_forward_sources_resolve_our_channels_and_name_the_rest() -> None:
    ours = ChannelName(A, "rian_ru", "РИА Новости")
    by_id, by_name = {A: ours}, {"rian_ru": ours}
    assert forward_source("channel:1001/5", by_id, by_name) == ("1001", "РИА Новости")
    assert forward_source("channel:1001", by_id, by_name) == ("1001", "РИА Новости")
    assert forward_source("name:@RIAN_ru/3", by_id, by_name) == ("1001", "РИА Новости")
    assert forward_source("channel:99/1", by_id, by_name) == ("channel:99", "channel:99")
    assert forward_source("name:@Other", by_id, by_name) == ("@other", "@Other")
    assert forward_source("user:42", by_id, by_name) == ("user:42", "user:42")
    assert forward_source("chat:7", by_id, by_name) == ("chat:7", "chat:7")
    assert forward_source("name:Иван", by_id, by_name) == ("name:Иван", "Иван")
    assert forward_source("hidden", by_id, by_name) is None


async def _graph(rig: Rig, query: str) -> nx.DiGraph:
    data, _ = await rig.run(query, "gexf")
    graph = nx.read_gexf(io.BytesIO(data))
    assert isinstance(graph, nx.DiGraph)
    return graph


async def test_gexf_is_the_forward_network_of_matching_posts(rig: Rig) -> None:
    graph = await _graph(rig, "Белгород")
    assert sorted(graph.edges(data="weight")) == [
        ("1001", "1002", 1),  # РИА forwarded Раньше всех (channel:1002/5)
        ("1002", "user:42", 1),
        ("1003", "1001", 1),  # name:@RIAN_RU/1 is our channel
        ("1003", "@someone", 1),
        ("1003", "name:Иван Петров", 1),
    ]  # "hidden" has no identity: no node
    labels = dict(graph.nodes(data="label"))
    assert labels["1001"] == "РИА Новости" and labels["1003"] == "Закрытый канал"
    assert labels["@someone"] == "@someone" and labels["name:Иван Петров"] == "Иван Петров"
    assert graph.nodes["1002"]["username"] == "bbbreaking"
    assert graph.nodes["user:42"]["kind"] == "external"
    narrow = await _graph(rig, "дрон")
    assert sorted(narrow.edges) == [("1001", "1002")]


async def test_gexf_without_a_query_counts_in_sql_like_the_stream(rig: Rig) -> None:
    await rig.ingest.ingest(_post(C, 12, 9, "Курс рубля", fwd_from="name:@someone/8"))
    graph = await _graph(rig, "")
    assert graph.edges["1003", "@someone"]["weight"] == 2  # two forwarded posts, one edge
    assert graph.number_of_edges() == 5
    assert (await _graph(rig, "Белгород")).edges["1003", "@someone"]["weight"] == 1


# ------------------------------------------------------------------ the file /export sends
def test_upload_file_stays_plain_up_to_the_threshold() -> None:
    with UploadFile(gzip_above=100, limit=1000) as file:
        file.write(b"x" * 60)
        file.write(b"y" * 40)
        assert not file.compressed
        assert file.finish() == b"x" * 60 + b"y" * 40


def test_upload_file_turns_to_gzip_past_the_threshold() -> None:
    payload = [bytes([65 + i % 26]) * 70 for i in range(200)]
    with UploadFile(gzip_above=100, limit=10_000) as file:
        for chunk in payload:
            file.write(chunk)
        assert file.compressed
        data = file.finish()
    assert gzip.decompress(data) == b"".join(payload)
    assert len(data) < 10_000


def test_upload_file_refuses_past_the_limit_at_once() -> None:
    import os

    noise = os.urandom(4000)  # does not compress
    with UploadFile(gzip_above=100, limit=3000) as file:
        file.write(noise[:50])
        with pytest.raises(TooLarge) as caught:
            file.write(noise[50:])
        assert caught.value.limit == 3000
    with pytest.raises(ValueError):
        UploadFile(gzip_above=10, limit=5)


async def test_export_stops_early_once_the_limit_is_passed(rig: Rig, store: Store) -> None:
    for i in range(300):  # posts of text that compresses only about twofold
        noise = " ".join(hashlib.sha256(f"{i}/{j}".encode()).hexdigest() for j in range(4))
        await rig.ingest.ingest(_post(A, 100 + i, 10 + i, f"Белгород {noise}"))
    written: list[int] = []
    with UploadFile(gzip_above=2000, limit=5000) as file, pytest.raises(TooLarge):
        await export(rig.access, selection(rig.search, "Белгород", None, None), "csv", file,
                     progress=written.append, batch=20)
    assert 0 < sum(written) < 100  # stopped well before the 308 posts


# ------------------------------------------------------------------ the command line
@pytest.fixture
def tool_db(rig: Rig, tmp_path: Path, places_cache: Path) -> Path:
    """The rig's database, with the gazetteer cache where ``chanwatch`` looks for it."""
    shutil.copytree(places_cache, tmp_path / "cache", dirs_exist_ok=True)
    return tmp_path / "test.sqlite3"


def _partials(folder: Path) -> list[Path]:
    return list(folder.glob("*.partial"))


def _cli(tmp_path: Path, *args: str) -> int:
    return main(["export", "--db", str(tmp_path / "test.sqlite3"), "--tz", "UTC", *args])


async def _cli_async(tmp_path: Path, *args: str) -> int:
    return await asyncio.to_thread(_cli, tmp_path, *args)


async def test_cli_writes_csv_jsonl_and_gexf_files(tool_db: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    assert await _cli_async(tmp_path, "--format", "csv", "Белгород", "--since", "2026-11-20",
                            "--until", "2026-11-20", "-o", str(out)) == 0
    rows = _csv(out.read_bytes())
    assert len(rows) == 8 and rows[0]["matched_rules"] == f"{CHAT}#1 {CHAT}#2 {OTHER}#1"
    err = capsys.readouterr().err
    assert "chanwatch: 8 posts exported (2026-11-20 09:00 – 2026-11-20 17:00 UTC)" in err
    assert not _partials(tmp_path)
    jsonl = tmp_path / "out.jsonl.gz"
    assert await _cli_async(tmp_path, "--format", "jsonl", "-o", str(jsonl)) == 0
    records = _jsonl(gzip.decompress(jsonl.read_bytes()))
    assert len(records) == 9 and records[2]["versions"]
    gexf = tmp_path / "net.gexf"
    assert await _cli_async(tmp_path, "--format", "gexf", "Белгород", "-o", str(gexf)) == 0
    assert nx.read_gexf(gexf).number_of_edges() == 5
    assert "5 forwarded posts: 6 nodes, 5 edges" in capsys.readouterr().err


async def test_cli_writes_to_stdout(tool_db: Path, tmp_path: Path,
                                    capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    assert await _cli_async(tmp_path, "--format", "jsonl", "дрон") == 0
    captured = capfdbinary.readouterr()
    assert [r["message_id"] for r in _jsonl(captured.out)] == [1, 2]
    assert b"2 posts exported" in captured.err and b"to stdout" in captured.err


async def test_cli_bad_input_is_one_line_and_leaves_no_file(
        tool_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    cases = [
        (("--format", "csv", "Белгород AND (", "-o", str(out)), "cannot understand the query"),
        (("--format", "csv", "x", "--since", "yesterday", "-o", str(out)), "cannot read the time"),
        (("--format", "csv", "x", "--since", "2026-11-21", "--until", "2026-11-20",
          "-o", str(out)), "the start of the period lies after its end"),
        (("--format", "csv", "region:Атлантида", "-o", str(out)), ""),
        (("--format", "csv", "x", "-o", str(tmp_path / "no" / "such" / "dir.csv")),
         "cannot write"),
    ]
    for args, message in cases:
        assert await _cli_async(tmp_path, *args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("chanwatch: ") and message in err and "Traceback" not in err
        assert not out.exists() and not _partials(tmp_path)
    missing = await asyncio.to_thread(
        main, ["export", "--db", str(tmp_path / "none.sqlite3"), "--format", "csv"])
    assert missing == 2 and "no database at" in capsys.readouterr().err


# ------------------------------------------------------------------ round trip
@dataclass
class _Target:
    store: Store
    lemmatizer: Lemmatizer
    places: PlaceMatcher


async def test_export_import_export_gives_the_same_posts(rig: Rig, tmp_path: Path,
                                                         lemmatizer: Lemmatizer,
                                                         places: PlaceMatcher) -> None:
    from bot.archive.importer import import_paths
    from bot.store import apply_migrations

    rig.clock.advance(minutes=10)  # a second edit: two versions to carry, in order
    assert await rig.ingest.apply_edit(replace(rig.posts["edited"], text="Белгород: отбой",
                                               edit_date=T0 + dt.timedelta(hours=3)))
    first, n = await rig.run("", "jsonl")
    path = tmp_path / "archive.jsonl"
    path.write_bytes(first)
    other = await Database.open(tmp_path / "fresh.sqlite3")
    try:
        await apply_migrations(other, rig.clock)
        fresh = Store(other, rig.clock)
        summary = await import_paths(_Target(fresh, lemmatizer, places), [path])
        assert (summary.new, summary.existing) == (n, 0) and n == 9
        again = io.BytesIO()
        await export(ArchiveAccess(fresh, ArchiveSearch(fresh, lemmatizer, places)),
                     selection(rig.search, "", None, None), "jsonl", again)
    finally:
        await other.close()

    def comparable(data: bytes) -> list[dict[str, object]]:
        # ids are the new database's, rules are this instance's, source says "import"
        return [{k: v for k, v in r.items() if k not in ("post_id", "matched_rules", "source")}
                for r in _jsonl(data)]

    before, after = comparable(first), comparable(again.getvalue())
    assert after == before
    edited = next(r for r in after if r["message_id"] == 2)
    assert edited["edits"] == 2 and len(edited["versions"]) == 2  # type: ignore[arg-type]
    assert {r["source"] for r in _jsonl(again.getvalue())} == {"import"}


def _export_on_a_terminal(tmp_path: Path, out: Path) -> tuple[int, str]:
    """``chanwatch export`` with stderr on a real pseudo-terminal; (exit code, what it showed)."""
    import fcntl
    import os
    import pty
    import struct
    import sys
    import termios

    master, slave = pty.openpty()
    # a terminal emulator gives its pty a size (a bare pty has 0 columns: an empty bar)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    terminal = open(slave, "w", encoding="utf-8", closefd=True)
    saved, sys.stderr = sys.stderr, terminal
    try:
        code = _cli(tmp_path, "--format", "csv", "Белгород", "-o", str(out))
    finally:
        sys.stderr = saved
        terminal.close()
    shown = b""
    os.set_blocking(master, False)
    try:
        while chunk := os.read(master, 65536):
            shown += chunk
    except (BlockingIOError, OSError):
        pass  # read all there was (EIO once the terminal side is closed)
    os.close(master)
    return code, shown.decode("utf-8", "replace")


async def test_cli_shows_a_progress_bar_only_on_a_terminal(
        tool_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    code, shown = await asyncio.to_thread(_export_on_a_terminal, tmp_path, out)
    assert code == 0 and len(_csv(out.read_bytes())) == 8
    assert "8/8" in shown and "posts" in shown and "100%" in shown  # tqdm's bar, total known
    assert "chanwatch: 8 posts exported" in shown
    assert await _cli_async(tmp_path, "--format", "csv", "Белгород", "-o", str(out)) == 0
    err = capsys.readouterr().err  # not a terminal: the summary line alone
    assert "%" not in err and err.count("\n") == 1 and "8 posts exported" in err
