"""``chanwatch demo`` runs to completion, offline, and shows the expected alerts."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher
from bot.sandbox.demo import DemoOptions, load_sample, run_demo, to_terminal
from bot.sandbox.demo.stage import demo_settings, ocr_available

# Read by hand from the bundled sample: among its first 80 posts these six match the demo's
# rules (Белгород · "Белгородская область" · беспилотник -Севастополь · region Belgorod oblast).
# Posts 29 and 35 mention drones over Sevastopol and must stay silent; post 47 only has the
# adjective "беспилотный", but it names "белгородцы" (a demonym), so the region rule fires.
EXPECTED = [2, 47, 59, 69, 71, 77]


async def test_demo_plays_the_script_and_alerts_on_the_expected_posts(
    tmp_path: Path, lemmatizer: Lemmatizer
) -> None:
    lines: list[str] = []
    result = await run_demo(DemoOptions(posts=80, speed=0, data_dir=tmp_path / "demo"),
                            emit=lines.append, lemmatizer=lemmatizer,
                            places=PlaceMatcher.shared(lemmatizer))
    assert result.unscripted == []
    assert result.posts_replayed == 80
    # text in pictures is read where tesseract is installed (.ci/run and the image install it)
    ocr = result.ocr_off is None
    assert ocr == (shutil.which("tesseract") is not None), result.ocr_off
    sample = load_sample(80)
    alerted = [a.text for a in result.alerts]
    # the replay's alerts, the post caught up after the outage, the edit-made match, the
    # screenshot whose text alerts (with OCR), the delivery scene's story (its forward by @mash
    # only edits that alert), then the new post of the channel read through its web preview
    assert len(alerted) == len(EXPECTED) + 4 + ocr
    assert "⏱ 4 min late: found when catching up" in alerted[-4 - ocr]
    assert "✏️ edited: the new text matches" in alerted[-3 - ocr]
    if ocr:
        screenshot = alerted[-3]
        assert "Заявление оперштаба, скриншот (демо)" in screenshot
        assert "📷 text in image: «Оперативный штаб Белгородской области:" in screenshot
        assert "📍 Белгородская область, Belgorod Oblast; Шебекино, Belgorod Oblast" in (
            screenshot)
        assert "Rules #2 \"Белгородская область\", #4 region:" in screenshot
        # /media on: the alert is the screenshot itself, with the alert as its caption
        assert result.alerts[-3].photo is not None
        assert sum(a.photo is not None for a in result.alerts) == 1
    assert "сбит беспилотник" in alerted[-2]
    # rules #1, #3 and #4 were muted by the button, so rule #2 alone alerts on the preview post
    assert "Фронтовая сводка (web preview)" in alerted[-1]
    assert "https://t.me/frontline_preview/4" in alerted[-1]
    assert "Rule #2" in alerted[-1]
    assert ("🌐 EN: [demo stand-in: transliteration, not a translation] Bespilotnik atakoval"
            " legkovoy avtomobil v Belgorodskoy oblasti") in alerted[-1]
    for index, text in zip(EXPECTED, alerted[:len(EXPECTED)], strict=True):
        first_words = " ".join(sample[index]["text"].split()[:4]).replace("**", "")
        assert first_words[:20] in text.replace("**", "").replace("\n", " "), (index, text)
    transcript = "\n".join(lines)
    assert "⚠️ @no_such_channel does not exist." in transcript
    assert "Cannot understand the rule at character 6: expected a closing \" for this quote" in (
        transcript)
    assert "Rules #1 Белгород, #2 \"Белгородская область\", #3 беспилотник -Севастополь" in (
        transcript)
    assert "*Белгородской области*" in transcript  # highlights survive into the transcript
    assert f"Its database is {tmp_path / 'demo' / 'chanwatch.sqlite3'}" in transcript
    assert "deleted a post that rule #2 alerted on" in transcript
    # evidence: the photo post is kept by content after the channel deleted it
    assert "📷 @mash posts a photo, then deletes the post" in transcript
    assert len(result.media_kept) == 1 and result.media_kept[0].is_file()
    kept = result.media_kept[0]
    assert kept.name == f"{hashlib.sha256(kept.read_bytes()).hexdigest()}.jpg"
    assert f"kept after deletion: media/{kept.parent.name}/{kept.name}" in transcript
    if ocr:  # only the picture's words are bold
        assert "📷 text in image: «Оперативный штаб *Белгородской области*:" in transcript
        assert "   Заявление оперштаба, скриншот (демо)\n" in transcript
        assert "[picture: the post's photo, the alert is its caption," in transcript
        assert "Alerts to this chat are text again" in transcript
    else:
        assert "📷 Text in pictures is not read in this demo: OCR=rus+ukr+eng:" in transcript
    assert transcript.count("📚 Backfill of") == 4  # the web-preview channel backfills too
    # delivery: buttons, "also in", quiet hours folded, a mute button, a digest
    assert "[🔕 Mute rules 1h] [🔕 24h] [Open post ↗]" in transcript
    assert "↪ also in @mash" in transcript
    assert "🌙 Quiet hours are over. 1 alert arrived meanwhile:" in transcript
    assert "→ 🔕 #1, #3, #4 muted for 1 h" in transcript
    assert "🗞 *Digest* ·" in transcript and "#3 беспилотник -Севастополь — " in transcript
    assert "Belgorod Oblast — " in transcript
    assert "Digest daily at 08:00, 20:00 (Europe/Moscow)" in transcript
    # a channel read through its web preview (the web stand-in), with a translated alert
    assert "A stand-in for the web (channel web previews, a translator) runs on" in transcript
    assert "🌐 @frontline_preview (web): Итоги дня" in transcript
    assert "Alerts to this chat now carry a translation into *en* (via LibreTranslate)." in (
        transcript)
    assert ("🌐 Watching *Фронтовая сводка (web preview)* (@frontline_preview) through its web"
            " preview (t.me/s)") in transcript
    assert "🌐 @frontline_preview (web): Беспилотник атаковал легковой автомобиль" in transcript
    assert "shortened to 10 s for the demo" in transcript
    assert "🔔 *Фронтовая сводка (web preview)* ·" in transcript
    assert ("🌐 *EN*: [demo stand-in: transliteration, not a translation] Bespilotnik"
            " atakoval") in transcript
    assert "🌐 Alerts are no longer translated." in transcript
    assert "*Фронтовая сводка (web preview)* @frontline_preview — 4 posts" in transcript
    assert transcript.count("🔔 *Фронтовая сводка") == 1  # its earlier posts are history

    db = sqlite3.connect(tmp_path / "demo" / "chanwatch.sqlite3")
    try:
        # 80 replayed, 30 backfilled history posts, 2 published during the outage, 1 photo,
        # the screenshot (with OCR), 3 in the delivery scene, 3 + 1 read through the web preview
        assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == (
            80 + 30 + 2 + 1 + ocr + 3 + 4)
        assert db.execute("SELECT p.deleted_at IS NOT NULL, pm.state, pm.ocr FROM post_media pm"
                          " JOIN posts p ON p.id = pm.post_id ORDER BY p.id").fetchall() == [
            (1, "stored", "done" if ocr else "pending")] + [(0, "stored", "done")] * ocr
        sources = db.execute(
            "SELECT p.source, COUNT(*) FROM posts p JOIN channels c ON c.id = p.channel_id"
            " WHERE c.username = 'frontline_preview' GROUP BY 1 ORDER BY 1").fetchall()
        assert sources == [("backfill", 3), ("preview", 1)]
        statuses = db.execute(
            "SELECT status, COUNT(*) FROM outbox WHERE kind = 'alert' GROUP BY 1").fetchall()
        assert statuses == [("folded", 1), ("sent", len(EXPECTED) + 4 + ocr)]
        translations = db.execute("SELECT lang, provider, text FROM translations").fetchall()
        assert [(lang, provider) for lang, provider, _ in translations] == [
            ("en", "LibreTranslate")]
        assert translations[0][2].startswith("[demo stand-in: transliteration")
        kinds = db.execute("SELECT kind, status FROM outbox WHERE kind != 'alert'"
                           " AND kind != 'notice' ORDER BY id").fetchall()
        assert kinds == [("edit", "sent"), ("fold", "sent"), ("digest", "sent")]
    finally:
        db.close()


def cache_env(tmp_path: Path) -> dict[str, str]:
    """The demo caches the compiled place index in XDG_CACHE_HOME: keep it in the test's dir."""
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


async def test_demo_command_runs_from_the_cli(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--posts", "5", "--speed", "100",
        "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=cache_env(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)  # generous: CI machines are shared
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "👤 admin › /watch @rian_ru" in text
    assert "Demo finished: 5 posts replayed" in text
    assert "🌐 *EN*: [demo stand-in: transliteration, not a translation]" in text
    assert (tmp_path / "d" / "chanwatch.sqlite3").is_file()


def test_terminal_rendering() -> None:
    html = '🔔 <strong>Канал</strong> &amp; <code>x&lt;y</code> <a href="https://t.me/a/1">link</a>'
    assert to_terminal(html, color=False) == "🔔 *Канал* & x<y link"
    colored = to_terminal(html, color=True)
    assert "\x1b[1mКанал\x1b[22m" in colored and "\x1b[36mx<y\x1b[39m" in colored


async def test_interactive_demo_takes_commands_and_posts_from_stdin(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--posts", "1", "--speed", "100", "--interactive",
        "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=cache_env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    typed = "/alert Шебекино\npost @mash Обстрел Шебекино ночью\npost @nowhere x\nquit\n"
    out, err = await asyncio.wait_for(proc.communicate(typed.encode()), 180)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "✅ Rule #5 saved. Understood as: шебекино" in text
    assert "Обстрел *Шебекино* ночью" in text
    assert "usage: post @channel text" in text
    # + the outage post, the delivery scene's story and the web-preview post
    alerts = 4 + (shutil.which("tesseract") is not None)  # the screenshot, where OCR runs
    assert f"Demo finished: 2 posts replayed, {alerts} alerts sent." in text


def test_the_demo_says_why_it_reads_no_text_in_pictures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no tesseract on it: the demo runs with OCR off
    why = ocr_available()
    assert why is not None and "tesseract is not installed" in why
    assert "apt install tesseract-ocr tesseract-ocr-rus tesseract-ocr-ukr" in why
    assert demo_settings(Path("d"), "http://127.0.0.1:1").ocr is None
    assert demo_settings(Path("d"), "http://127.0.0.1:1", ocr=True).ocr == "rus+ukr+eng"
