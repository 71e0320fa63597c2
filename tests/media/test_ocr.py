"""Text in images: the real tesseract (Debian's tesseract-ocr, installed by .ci/run) reads
pictures the tests draw with Cyrillic text; the text is kept, indexed, matched by rules and
alerted on, in a real database; each failure of the worker is injected where it happens."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.archive.export import ArchiveAccess, export
from bot.archive.search import ArchiveSearch
from bot.match import Lemmatizer
from bot.media.bundle import verify_bundle, write_bundle
from bot.media.files import MediaFiles
from bot.media.ocr import OcrReader, OcrUnavailable, OcrWorker
from bot.models import ChatKind, MediaFile, Post, PostSource
from bot.render import render_alert, render_summary
from bot.services.digest import DigestService
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store
from bot.store.event_json import parse_event
from bot.store.media import NEXT_OCR, OcrItem
from bot.store.records import SearchWindow
from tests.support.fakes import FakeClock
from tests.support.images import encode, scene, text_picture

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None,
                                reason="tesseract is not installed (.ci/run installs it)")
CHAT, CHANNEL = 11, 777
LANGS = "rus+ukr+eng"
UTC = ZoneInfo("UTC")


@dataclasses.dataclass
class Rig:
    store: Store
    db: Database
    clock: FakeClock
    rules: RulesService
    ingest: IngestService
    files: MediaFiles
    worker: OcrWorker
    tmp: Path
    next_id: int = 0

    async def photo_post(self, text: str, picture: bytes, *, source: str = "live",
                         ext: str = "jpg") -> Post:
        """Store a post with a photo, then file the photo as the downloader does."""
        self.next_id += 1
        mid = self.next_id
        post = Post(channel_id=CHANNEL, message_id=mid, date=self.clock.now(), text=text,
                    permalink=f"https://t.me/kanal/{mid}", channel_username="kanal",
                    media="photo", media_file=MediaFile(file_id=5000 + mid, kind="photo",
                                                        mime="image/jpeg", ref=b"tl"))
        if source == PostSource.LIVE:
            await self.ingest.ingest(post)
        else:
            await self.ingest.ingest_many([post], source=source)
        item = await self.store.media.next_due()
        assert item is not None and item.message_id == mid
        download = self.tmp / f"{mid}.part"
        download.write_bytes(picture)
        stored = self.files.put(download, ext)
        await self.store.media.stored(item, stored.sha256, stored.ext, stored.size)
        return post

    async def alerts(self) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            "SELECT chat_id, event FROM outbox WHERE kind = 'alert' ORDER BY id")
        return [(int(r[0]), str(r[1])) for r in rows]

    async def matches(self) -> list[tuple[int, int, str, int]]:
        rows = await self.db.fetchall(
            "SELECT r.number, p.message_id, m.spans, m.in_image FROM matches m"
            " JOIN rules r ON r.id = m.rule_id JOIN posts p ON p.id = m.post_id"
            " ORDER BY p.message_id, r.number")
        return [(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in rows]


@pytest.fixture
async def rig(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
              tmp_path: Path) -> Rig:
    await store.chats.upsert(CHAT, ChatKind.PRIVATE, None)
    await store.channels.add(CHANNEL, "kanal", "Канал", None, None)
    rules = RulesService(store, lemmatizer)
    await rules.rebuild()
    ingest = IngestService(store, rules, UTC, clock, AdminNotifier(store, frozenset()))
    files = MediaFiles(tmp_path / "media")
    files.make_temp()
    worker = OcrWorker(store, files, OcrReader(LANGS), ingest.apply_image_text)
    return Rig(store, db, clock, rules, ingest, files, worker, tmp_path)


SHEBEKINO = ["Взрыв в Шебекино: дроны атакуют", "Бєлгород і Харків — 12 листопада"]


def test_reader_reads_drawn_cyrillic_in_russian_and_ukrainian(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(encode(text_picture(SHEBEKINO), "PNG"))
    text = OcrReader(LANGS).read(path)
    assert text.splitlines() == SHEBEKINO
    # a phone photo of a screen: JPEG, smaller, the text smaller
    small = tmp_path / "small.jpg"
    small.write_bytes(encode(text_picture(SHEBEKINO, size=(520, 170), font_size=17),
                             quality=80))
    words = OcrReader(LANGS).read(small).split()
    assert {"Шебекино:", "Харків"} <= set(words), words
    assert {"Бєлгород", "Белгород"} & set(words), words  # small є may read as е: both match


def test_reader_keeps_nothing_of_a_photo_without_text(tmp_path: Path) -> None:
    for seed in range(4):
        path = tmp_path / f"{seed}.jpg"
        path.write_bytes(encode(scene(seed)))
        assert OcrReader(LANGS).read(path) == ""


def test_tesseract_runs_on_one_thread_unless_the_operator_says_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract.pytesseract as pt

    seen: list[str | None] = []
    run = pt.run_tesseract

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(pt.subprocess_args()["env"].get("OMP_THREAD_LIMIT"))
        return run(*args, **kwargs)

    monkeypatch.setattr(pt, "run_tesseract", watched)  # the real run, its environment read
    path = tmp_path / "shot.png"
    path.write_bytes(encode(text_picture(SHEBEKINO), "PNG"))
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    assert OcrReader(LANGS).read(path).splitlines() == SHEBEKINO
    monkeypatch.setenv("OMP_THREAD_LIMIT", "2")
    assert OcrReader(LANGS).read(path).splitlines() == SHEBEKINO
    assert seen == ["1", "2"]


def test_check_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    OcrReader(LANGS).check()  # what .ci/run and the image install
    with pytest.raises(OcrUnavailable, match=r"no data for bel, xyz .*tesseract-ocr-bel"):
        OcrReader("rus+bel+xyz").check()
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "no-such-tesseract")
    with pytest.raises(OcrUnavailable, match="tesseract is not installed"):
        OcrReader(LANGS).check()


async def test_text_in_a_picture_alerts_once_says_so_and_is_searchable(
        rig: Rig, lemmatizer: Lemmatizer) -> None:
    await rig.rules.add(CHAT, "Шебекино", CHAT)
    post = await rig.photo_post("Смотрите, что прислали подписчики", encode(
        text_picture(SHEBEKINO), "PNG"), ext="png")
    assert await rig.alerts() == []  # the post's own text does not match
    assert await rig.worker.drain() == 1
    alerts = await rig.alerts()
    assert len(alerts) == 1
    event = parse_event(alerts[0][1])
    assert event is not None and event.image_text.splitlines() == SHEBEKINO
    assert event.matched == ["Шебекино"]
    html = render_alert(event, UTC)
    # the post's text bolds nothing; the picture's text is quoted with what fired in bold
    assert "Смотрите, что прислали подписчики\n📷 text in image: «Взрыв в <b>Шебекино</b>:" \
        in html
    assert html.count("<b>") == 2  # the channel's title, and the word
    assert "📷 text in image: «Взрыв в <b>Шебекино</b>:" in render_summary(event, UTC)
    assert await rig.matches() == [(1, post.message_id, "[]", 1)]
    # searchable, in word forms too (дрон finds «дроны», Бєлгородом «Бєлгород»)
    search = ArchiveSearch(rig.store, lemmatizer)
    for query in ("Шебекино", "Бєлгородом", "Харків AND дрон", '"дроны атакуют"'):
        page = await search.page(search.compile(query))
        assert [(h.post.post.message_id, h.in_image) for h in page.hits] == [
            (post.message_id, True)], query
        assert page.count.total == 1
    hit = (await search.page(search.compile("Шебекино"))).hits[0]
    assert hit.text[slice(*hit.spans[0])] == "Шебекино"
    # the post's own text is found as before, not as a picture's
    page = await search.page(search.compile("подписчики"))
    assert [h.in_image for h in page.hits] == [False]
    # done once: handing the same text on again changes nothing
    item = dataclasses.replace(await _item_of(rig, post), sha256="x")
    assert await rig.ingest.apply_image_text(item, event.image_text) is None
    assert len(await rig.alerts()) == 1


async def test_the_digest_says_a_post_matched_by_its_pictures_text(rig: Rig) -> None:
    await rig.rules.add(CHAT, "Шебекино", CHAT)
    await rig.rules.add(CHAT, "подписчики", CHAT)
    since = rig.clock.now()
    by_picture = await rig.photo_post("Смотрите, что прислали", encode(text_picture(SHEBEKINO)))
    by_text = await rig.photo_post("Пишут подписчики", encode(scene(4)))
    await rig.worker.drain()
    rig.clock.advance(minutes=5)
    chat = await rig.store.chats.get(CHAT)
    assert chat is not None
    html, _ = await DigestService(rig.store, rig.clock, UTC, None).build(
        chat, since, rig.clock.now())
    lines = {line.split("\n")[1].strip() for line in html.split("• ")[1:]}
    assert any(line.startswith(by_picture.text) and "📷 text in image" in line
               for line in lines), lines
    assert any(line.startswith(by_text.text) and "📷" not in line for line in lines), lines


async def test_a_chat_alerted_by_the_text_gets_no_second_alert(rig: Rig) -> None:
    await rig.rules.add(CHAT, "подписчики", CHAT)
    await rig.rules.add(CHAT, "Шебекино", CHAT)
    post = await rig.photo_post("Прислали подписчики", encode(text_picture(SHEBEKINO)))
    assert len(await rig.alerts()) == 1
    await rig.worker.drain()
    assert len(await rig.alerts()) == 1
    # the picture's match is kept (digests, stats), marked as found in the picture
    assert await rig.matches() == [(1, post.message_id, "[[9, 19]]", 0),
                                   (2, post.message_id, "[]", 1)]


async def test_old_and_backfilled_pictures_are_matched_never_alerted(
        rig: Rig, lemmatizer: Lemmatizer) -> None:
    await rig.rules.add(CHAT, "Шебекино", CHAT)
    picture = encode(text_picture(SHEBEKINO))
    backfilled = await rig.photo_post("История канала", picture, source="backfill")
    await rig.worker.drain()
    late = await rig.photo_post("Давний пост", encode(text_picture(SHEBEKINO, seed=1)))
    rig.clock.advance(minutes=61)  # OCR turned on later: this picture is read an hour on
    await rig.worker.drain()
    assert await rig.alerts() == []
    assert [m[1] for m in await rig.matches()] == [backfilled.message_id, late.message_id]
    search = ArchiveSearch(rig.store, lemmatizer)
    page = await search.page(search.compile("Шебекино"))
    assert [h.post.post.message_id for h in page.hits] == [late.message_id,
                                                          backfilled.message_id]


async def test_exports_and_bundles_carry_the_text_read_in_pictures(
        rig: Rig, lemmatizer: Lemmatizer) -> None:
    with_text = await rig.photo_post("Смотрите", encode(text_picture(SHEBEKINO), "PNG"),
                                     ext="png")
    plain = await rig.photo_post("Пейзаж", encode(scene(3)))
    await rig.worker.drain()
    archive = ArchiveAccess(rig.store, ArchiveSearch(rig.store, lemmatizer))
    window = SearchWindow(None, None)
    jsonl, csv_out = io.BytesIO(), io.BytesIO()
    await export(archive, window, "jsonl", jsonl)
    await export(archive, window, "csv", csv_out)
    records = [json.loads(line) for line in jsonl.getvalue().decode().splitlines()]
    assert [(r["message_id"], r["image_text"]) for r in records] == [
        (with_text.message_id, "\n".join(SHEBEKINO)), (plain.message_id, None)]
    table = list(csv.DictReader(io.StringIO(csv_out.getvalue().decode())))
    assert [r["image_text"] for r in table] == ["\n".join(SHEBEKINO), ""]
    # found by the picture's text, the post is exported; a bundle keeps the text too
    found = archive.search.compile("Шебекино", None, None)
    bundle = rig.tmp / "case"
    await write_bundle(archive, found, rig.files, bundle, {}, rig.clock.now())
    lines = (bundle / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["image_text"] for line in lines] == ["\n".join(SHEBEKINO)]
    assert verify_bundle(bundle).ok


async def test_the_same_file_in_two_posts_is_read_once(rig: Rig) -> None:
    await rig.rules.add(CHAT, "Харків", CHAT)
    picture = encode(text_picture(SHEBEKINO), "PNG")
    first = await rig.photo_post("Первый", picture, ext="png")
    second = await rig.photo_post("Репост", picture, ext="png")
    assert await rig.worker.drain() == 2
    assert (rig.worker.read, rig.worker.reused) == (1, 1)
    assert await one(rig, "SELECT COUNT(*) FROM media_text") == (1,)
    # one alert per post (the second post is another post: "also in" is the dedup's call)
    assert [m[1] for m in await rig.matches()] == [first.message_id, second.message_id]


async def test_an_unreadable_picture_is_recorded_and_the_queue_goes_on(rig: Rig) -> None:
    await rig.rules.add(CHAT, "Шебекино", CHAT)
    good = await rig.photo_post("Хорошее", encode(text_picture(SHEBEKINO)))
    await rig.photo_post("Битое", b"\xff\xd8\xff\xe0 not really a jpeg" * 10)  # newest: first
    assert await rig.worker.drain() == 2
    assert rig.worker.failed == 1
    rows = await rig.db.fetchall("SELECT text, error FROM media_text ORDER BY error IS NULL")
    assert rows[0][0] == "" and "Truncated File Read" in rows[0][1]
    assert rows[1][1] is None and "Шебекино" in rows[1][0]
    assert await one(rig, "SELECT COUNT(*) FROM post_media WHERE ocr = 'pending'") == (0,)
    assert [m[1] for m in await rig.matches()] == [good.message_id]
    # a file missing from the store (removed by hand) is the same: recorded, not retried
    missing = await rig.photo_post("Пропал", encode(text_picture(["Курск"])))
    item = await _item_of(rig, missing)
    rig.files.path(item.sha256, item.ext).unlink()
    assert await rig.worker.drain() == 1 and rig.worker.failed == 2


async def test_a_database_failure_leaves_the_picture_waiting(rig: Rig, db: Database) -> None:
    await rig.rules.add(CHAT, "Шебекино", CHAT)
    await rig.photo_post("Фото", encode(text_picture(SHEBEKINO)))

    async def fail(sql: str) -> None:
        async def work(conn: object) -> None:
            await conn.execute(sql)  # type: ignore[attr-defined]
        await db.transaction(work)

    # the commit of the text's match fails (a full disk, a bug): nothing of it is kept
    await fail("CREATE TRIGGER boom BEFORE INSERT ON matches"
               " BEGIN SELECT RAISE(ABORT, 'disk is full'); END")
    with pytest.raises(Exception, match="disk is full"):
        await rig.worker.step()
    assert await one(rig, "SELECT ocr FROM post_media") == ("pending",)
    assert await rig.alerts() == [] and await rig.matches() == []
    await fail("DROP TRIGGER boom")
    # the text was kept before the failure: the retry does not run tesseract again
    assert await rig.worker.drain() == 1
    assert (rig.worker.read, rig.worker.reused) == (1, 1)
    assert len(await rig.alerts()) == 1


async def test_the_queue_is_read_newest_first_from_its_index(rig: Rig, db: Database) -> None:
    plan = await db.fetchall("EXPLAIN QUERY PLAN " + NEXT_OCR)
    details = " | ".join(str(r[3]) for r in plan)
    assert "USING INDEX post_media_ocr" in details and "TEMP B-TREE" not in details, details
    first = await rig.photo_post("Раньше", encode(text_picture(["Курск"])))
    rig.clock.advance(minutes=1)
    second = await rig.photo_post("Позже", encode(text_picture(["Брянск"])))
    order = []
    while (item := await rig.store.media.next_ocr()) is not None:
        order.append(item.post_id)
        await rig.worker.step()
    assert order == [await _post_id(rig, second), await _post_id(rig, first)]


async def one(rig: Rig, sql: str) -> tuple[object, ...]:
    row = await rig.db.fetchone(sql)
    assert row is not None
    return tuple(row)


async def _post_id(rig: Rig, post: Post) -> int:
    row = await rig.db.fetchone("SELECT id FROM posts WHERE message_id = ?", (post.message_id,))
    assert row is not None
    return int(row[0])


async def _item_of(rig: Rig, post: Post) -> OcrItem:
    row = await rig.db.fetchone(
        "SELECT pm.post_id, pm.file_id, pm.sha256, m.ext FROM post_media pm JOIN media m"
        " ON m.sha256 = pm.sha256 JOIN posts p ON p.id = pm.post_id WHERE p.message_id = ?",
        (post.message_id,))
    assert row is not None
    return OcrItem(int(row[0]), int(row[1]), row[2], row[3])

