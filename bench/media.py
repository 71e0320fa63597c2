"""Media kept: downloads per second from the loopback fake Telegram, and bytes stored.

A channel on the fake Telegram carries POSTS posts with a photo each (JPEGs of 320-960 px
drawn from noise, DISTINCT different ones, so that reposts repeat them) and DOCS posts with a
1-4 MB document. A real Telethon user client reads them (``get_messages``, as catch-up does),
chanwatch stores them (their files queued in ``post_media``), and the downloader drains the
queue through upload.getFile parts, hashing and storing each file once (with a perceptual hash
of each new image). Prints one JSON line: files and MB per second, bytes Telegram announced
against bytes stored (the dedup ratio), and perceptual hashes per second on their own.

OCR (when tesseract is installed): OCR_PICTURES screenshot-like pictures, each with the first
lines of a real post of the ru-news-2024 corpus drawn in it (DejaVu Sans, 18-30 px, PNG and
JPEG), read by chanwatch's OcrReader (rus+ukr+eng): seconds per picture, and the share of the
drawn words it read back (word recall); then the photos above, which hold no text: the words
it made up on them.

The fake answers from memory over loopback, so these figures are chanwatch's own cost per file
(Telethon's MTProto parts, hashing, the store), not Telegram's network.

Usage: python bench/media.py [POSTS] [DISTINCT] [DOCS] [OCR_PICTURES]   (300 100 10 40)
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bot.clock import SystemClock
from bot.config import settings_from_mapping
from bot.media.downloader import MediaDownloader
from bot.media.files import MediaFiles
from bot.media.ocr import OcrReader
from bot.media.phash import image_phash
from bot.sandbox import FakeTelegram
from bot.sandbox.pictures import text_picture, wrapped
from bot.services.notify import AdminNotifier
from bot.store import Database, Store, apply_migrations
from bot.telegram.clients import make_client
from bot.telegram.convert import message_to_post
from bot.telegram.media import TelegramMedia


def noise_jpeg(rng: random.Random) -> bytes:
    side = rng.choice((320, 640, 960))
    img = Image.frombytes("RGB", (side, side * 3 // 4), rng.randbytes(side * side * 9 // 4))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ru-news-2024"
DEMO_POSTS = Path(__file__).resolve().parents[1] / "bot" / "sandbox" / "data" / "demo_posts.jsonl"


def corpus_texts(count: int, rng: random.Random) -> list[str]:
    """Texts of ``count`` real posts (the shared corpus, or the demo's posts without it)."""
    texts: list[str] = []
    for path in sorted(CORPUS.glob("*_messages.json")):
        texts += [m["text"] for m in json.loads(path.read_text(encoding="utf-8"))
                  if len(m.get("text") or "") > 120]
    if not texts:
        texts = [json.loads(line)["text"] for line in DEMO_POSTS.read_text("utf-8").splitlines()]
    return rng.sample(texts, min(count, len(texts)))


def ocr_figures(pictures: int, photos: list[Path], rng: random.Random,
                work: Path) -> dict[str, object]:
    """OCR seconds per picture, word recall on drawn text, words made up on photos."""
    reader = OcrReader("rus+ukr+eng")
    try:
        reader.check()
    except Exception as exc:
        return {"ocr": f"not measured: {exc}"}
    drawn, read, seconds = 0, 0, 0.0
    for n, text in enumerate(corpus_texts(pictures, rng)):
        size = rng.choice((18, 22, 26, 30))
        # 0.59 em per character in DejaVu Sans; the lines end before the shapes at x >= 880
        lines = wrapped(text, width=int(840 / (size * 0.62)), lines=4)
        path = work / f"ocr{n}.{'png' if n % 2 else 'jpg'}"
        text_picture(lines, size=(1000, 60 + len(lines) * int(size * 1.8)), seed=n,
                     font_size=size).save(path, quality=85)
        started = time.perf_counter()
        got = reader.read(path)
        seconds += time.perf_counter() - started
        want = [w.strip(".,:;!?«»()\"'—-") for w in " ".join(lines).split()]
        want = [w for w in want if w]
        seen = set(w.strip(".,:;!?«»()\"'—-") for w in got.split())
        drawn += len(want)
        read += sum(w in seen for w in want)
    sample = photos[:20]
    started = time.perf_counter()
    made_up = sum(len(reader.read(p).split()) for p in sample)
    photo_seconds = time.perf_counter() - started
    return {"ocr_pictures": pictures, "ocr_s_per_picture": round(seconds / max(pictures, 1), 2),
            "ocr_word_recall": round(read / max(drawn, 1), 3),
            "ocr_s_per_photo_without_text": round(photo_seconds / max(len(sample), 1), 2),
            "ocr_words_made_up_per_photo": round(made_up / max(len(sample), 1), 2)}


async def main(posts: int = 300, distinct: int = 100, docs: int = 10,
               ocr_pictures: int = 40) -> dict[str, object]:
    rng = random.Random(20261203)
    fake = await FakeTelegram.start()
    data_dir = Path(tempfile.mkdtemp(prefix="chanwatch-bench-media-"))
    try:
        world = fake.world
        user = world.add_account(world.add_user(1000, "Монитор"))
        fake.write_session(user, data_dir / "user.session")
        ch = world.add_channel(3_100_000, "Фото", "bench_photos")
        user.channels.add(ch.id)
        images = [noise_jpeg(rng) for _ in range(distinct)]
        for i in range(posts):
            world.post(ch, f"фото {i}", media="photo", media_data=images[rng.randrange(distinct)],
                       deliver=False)
        for i in range(docs):
            world.post(ch, f"документ {i}", media="document", file_name=f"doc{i}.pdf",
                       media_data=rng.randbytes(rng.randint(1, 4) << 20), deliver=False)
        settings = settings_from_mapping({
            "TG_API_ID": "1", "TG_API_HASH": "0" * 32, "TG_BOT_TOKEN": "42000:BENCH-token",
            "ADMIN_IDS": "7", "DATA_DIR": str(data_dir)})
        client = make_client(settings, settings.user_session_path, flood_sleep_threshold=0)
        db = await Database.open(data_dir / "chanwatch.sqlite3")
        clock = SystemClock()
        await apply_migrations(db, clock)
        store = Store(db, clock)
        await client.connect()
        try:
            await store.channels.add(ch.id, ch.username, ch.title, ch.entity.access_hash, 7)
            messages = await client.get_messages(ch.entity, limit=posts + docs)
            stored = [message_to_post(m, ch.username) for m in messages]
            announced = sum(p.media_file.size or 0 for p in stored if p.media_file)
            for post in stored:
                await store.posts.save(post, [], [], source="backfill")
            downloader = MediaDownloader(store, TelegramMedia(client),
                                         MediaFiles(settings.media_dir), clock,
                                         AdminNotifier(store, frozenset()))
            await downloader.prepare()
            started = time.perf_counter()
            handled = await downloader.drain()
            seconds = time.perf_counter() - started
            counts = await store.media.counts()
        finally:
            await client.disconnect()
            await db.close()
        on_disk = sum(p.stat().st_size for p in settings.media_dir.glob("??/*"))
        photos = sorted(settings.media_dir.glob("??/*.jpg"))
        started = time.perf_counter()
        hashed = [image_phash(p) for p in photos]
        phash_seconds = time.perf_counter() - started
        assert all(hashed), "every stored photo has a perceptual hash"
        assert counts.by_state == {"stored": posts + docs}, counts.by_state
        assert on_disk == counts.bytes
        return {
            "bench": "media", "posts": posts + docs, "distinct_images": distinct,
            "documents": docs, "files_stored": counts.files,
            "downloads_per_s": round(handled / seconds, 1),
            "mb_per_s": round(announced / seconds / (1 << 20), 1),
            "announced_mb": round(announced / (1 << 20), 1),
            "stored_mb": round(counts.bytes / (1 << 20), 1),
            "dedup_ratio": round(counts.bytes / announced, 3),
            "seconds": round(seconds, 2),
            "phash_per_s": round(len(photos) / phash_seconds, 1),
            **ocr_figures(ocr_pictures, photos, rng, data_dir),
        }
    finally:
        await fake.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(asyncio.run(main(*args))))
