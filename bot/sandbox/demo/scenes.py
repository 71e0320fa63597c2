"""The scripted scenes of the demo, in the order they are played.

The admin's opening commands (watch and backfill, rules), the replay of the real posts, an
outage with an edit and a deletion, the delivery features (a repeated story, quiet hours, a
mute button, a digest), the archive (/search, /stats) and a channel read through its web
preview whose alert is translated.
Texts marked "(демо)" are the demo's own; the replayed posts are the bundled real ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
from zoneinfo import ZoneInfo

from bot.sandbox.demo.session import DemoSession, wait_for
from bot.sandbox.demo.stage import PREVIEW_CHANNEL, PREVIEW_INTERVAL_SHOWN, load_sample
from bot.sandbox.world import SentMessage
from bot.store.media import StoredMedia

SCRIPT = (
    "/start",
    "/watch @rian_ru",
    "/watch https://t.me/bbcrussian",
    "/watch @mash",
    "/watch @no_such_channel",
    "/alert Белгород",
    '/alert "Белгородская область"',
    "/alert беспилотник -Севастополь",
    "/region Белгородская область",
    '/alert дрон "open quote',
    "/ondelete 2 on",
    "/rules",
)
AFTER = ("/channels",)
PREVIEW_NEW = ("Беспилотник атаковал легковой автомобиль в Белгородской области,"
               " водитель ранен (демо)")


async def opening(s: DemoSession) -> None:
    """Say what runs where, then watch the channels and set the rules."""
    t = s.transcript
    t.line(f"chanwatch demo — data in {s.result.data_dir}")
    t.line("A fake Telegram runs on 127.0.0.1; the real chanwatch service is connected to it.")
    t.line(f"A stand-in for the web (channel web previews, a translator) runs on"
           f" {s.web.url}.")
    for command in SCRIPT:
        await s.say(command)


async def closing(s: DemoSession) -> None:
    """The admin's last look: the channels and what was stored of them."""
    for command in AFTER:
        await s.say(command)


async def replay(s: DemoSession, count: int, speed: float) -> None:
    """Publish ``count`` sample posts, ``speed`` per second, printing alerts as they come."""
    rows = load_sample(count)
    s.transcript.line(f"\n⏩ replaying {len(rows)} real posts at {speed:g} posts/s")
    interval = 1.0 / speed if speed > 0 else 0.0
    before = await s.stored()
    for row in rows:
        message = s.world.post(s.stage.channels[row["channel"]], row["text"])
        s.published.append((row["channel"], message))
        s.transcript.channel_post(row["channel"], row["text"])
        s.result.posts_replayed += 1
        s.transcript.flush()
        await asyncio.sleep(interval)
    await s.settle(before + len(rows))


async def never_miss(s: DemoSession) -> None:
    """A dropped connection, an edit and a deletion: nothing slips through."""
    await _outage(s)
    await _edit(s)
    await _deletion(s)


async def _outage(s: DemoSession) -> None:
    t = s.transcript
    t.line("\n⚡ The connection to Telegram drops; @mash posts twice meanwhile"
           " (demo texts)")
    before = await s.stored()
    s.fake.drop_connections()
    meanwhile = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    for text in ("Беспилотник сбит над Белгородом, обломки упали во дворе (демо)",
                 "Погода: в Москве снег (демо)"):
        s.world.post(s.stage.channels["mash"], text, date=meanwhile)
        t.channel_post("mash", text)
    await s.settle(before + 2)


async def _edit(s: DemoSession) -> None:
    plain = next((m for ch, m in s.published
                  if ch == "bbcrussian" and "елгород" not in m.message), None)
    if plain is None:
        return
    s.transcript.line("\n✏️ @bbcrussian edits an earlier post so that it mentions Belgorod"
                      " (demo)")
    s.world.edit(s.stage.channels["bbcrussian"], plain.id,
                 plain.message + "\n\nОбновлено: взрывы слышны и в Белгороде.")
    await s.settle_alerts(len(s.result.alerts) + 1)


async def _deletion(s: DemoSession) -> None:
    alerted = next((m for ch, m in s.published
                    if ch == "rian_ru" and "Белгородской области" in m.message), None)
    if alerted is None:
        return
    s.transcript.line(f"\n🗑 @rian_ru deletes post {alerted.id}, which rule #2 alerted on")
    s.world.delete(s.stage.channels["rian_ru"], [alerted.id])
    for _ in range(200):
        if any("deleted a post" in line for line in s.result.transcript):
            break
        await asyncio.sleep(0.05)
        s.transcript.flush()


async def evidence(s: DemoSession) -> None:
    """A photo post is kept (by content, in DATA_DIR/media) and outlives its deletion; a
    screenshot's text alerts."""
    t = s.transcript
    channel = s.stage.channels["mash"]
    text = "Фото дня: закат над Москвой (демо)"
    t.line("\n📷 @mash posts a photo, then deletes the post")
    message = s.world.post(channel, text, media="photo", media_data=demo_photo())
    t.channel_post("mash", f"[photo] {text}")
    store = s.app.store

    async def kept() -> list[StoredMedia]:
        return await store.media.of_post(channel.id, message.id)

    deadline = asyncio.get_running_loop().time() + 15
    while not await kept() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        s.transcript.flush()
    s.world.delete(channel, [message.id])
    for _ in range(100):
        if await store.posts.is_deleted(channel.id, message.id):
            break
        await asyncio.sleep(0.05)
    for item in await kept():
        path = s.app.media.files.path(item.sha256, item.ext)
        t.line(f"   kept after deletion: {path.relative_to(s.result.data_dir)}"
               f" ({item.size:,} bytes, sha256 {item.sha256[:12]}…)")
        s.result.media_kept.append(path)
    await text_in_image(s)


SCREENSHOT_CAPTION = "Заявление оперштаба, скриншот (демо)"
SCREENSHOT_LINES = ["Оперативный штаб Белгородской области:",
                    "в Шебекино после обстрела повреждены",
                    "три частных дома, пострадавших нет (демо)"]


async def text_in_image(s: DemoSession) -> None:
    """A screenshot whose caption matches no rule: its text, read by OCR, does."""
    t = s.transcript
    if s.result.ocr_off is not None:
        t.line(f"\n📷 Text in pictures is not read in this demo: {s.result.ocr_off}")
        return
    from bot.sandbox.pictures import text_picture

    out = io.BytesIO()
    text_picture(SCREENSHOT_LINES, size=(900, 220), font_size=30).save(out, "PNG")
    t.line("\n📷 @mash posts a screenshot; only the text in the picture names Belgorod oblast"
           " (read by tesseract: OCR=rus+ukr+eng). The admin asks for alerts with the picture")
    await s.say("/media on")
    s.world.post(s.stage.channels["mash"], SCREENSHOT_CAPTION, media="photo",
                 media_data=out.getvalue())
    t.channel_post("mash", f"[photo] {SCREENSHOT_CAPTION}")
    want = len(s.result.alerts) + 1

    def alerted() -> bool:
        t.flush()
        return len(s.result.alerts) >= want

    await wait_for(alerted, 60)  # downloaded, read (about 0.3 s), matched, sent
    await s.say("/media off")


def demo_photo() -> bytes:
    """A small picture drawn for the demo (no bundled image is needed)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 320), (92, 110, 128))
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 200, 440, 300), fill=(60, 60, 60))
    draw.ellipse((300, 40, 400, 140), fill=(230, 220, 180))
    draw.text((50, 230), "chanwatch demo photo", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


async def delivery(s: DemoSession) -> None:
    """The same story twice, quiet hours, a mute button and a digest."""
    alert = await _story_and_forward(s)
    await _quiet_hours(s)
    if alert is not None and alert.reply_markup is not None:
        await _mute_button(s, alert)
    await s.say("/mode 3 both")
    await s.say("/digest now")
    await wait_for(lambda: any("Digest</b> ·" in m.html for m in s.world.sent), 15)
    s.transcript.flush()
    await s.say("/digest 08:00, 20:00")


async def archive(s: DemoSession) -> None:
    """What was collected comes back out: a search of every stored post, and a chart."""
    s.transcript.line("\n🗄 the archive: every stored post is searchable (the rule language)")
    await s.say("/search беспилотник* since 7d")
    await s.say("/stats Белгород 7d")


async def _story_and_forward(s: DemoSession) -> SentMessage | None:
    """@rian_ru reports a story, @mash forwards it: the alert is edited, not sent twice.

    Returns the first alert of the demo, whose mute button is pressed later.
    """
    t, world = s.transcript, s.world
    rian, mash = s.stage.channels["rian_ru"], s.stage.channels["mash"]
    t.line("\n🔁 @rian_ru reports a story; @mash forwards it a minute later (demo texts)")
    text = "Над Белгородом сбит беспилотник, пострадавших нет, сообщил губернатор (демо)"
    before = await s.stored()
    original = world.post(rian, text)
    t.channel_post("rian_ru", text)
    await s.settle(before + 1)
    alert = s.result.alerts[-1] if s.result.alerts else None
    edits = len(world.edited)
    world.post(mash, text, fwd_from_channel=rian.id, fwd_from_msg_id=original.id)
    t.channel_post("mash", "↪ forwarded from @rian_ru: " + text)
    await wait_for(lambda: len(world.edited) > edits, 15)
    t.flush()
    return alert


async def _quiet_hours(s: DemoSession) -> None:
    """An alert during quiet hours is held until they are over."""
    now = dt.datetime.now(ZoneInfo("Europe/Moscow"))
    quiet = f"{now - dt.timedelta(hours=1):%H:%M}-{now + dt.timedelta(hours=1):%H:%M}"
    await s.say(f"/quiet {quiet}")
    before = await s.stored()
    late_text = "В Белгороде снова объявлена ракетная опасность (демо)"
    s.world.post(s.stage.channels["bbcrussian"], late_text)
    s.transcript.channel_post("bbcrussian", late_text)
    await s.settle(before + 1)
    s.transcript.line("   (quiet hours: the alert is held)")
    await s.say("/quiet off")
    await wait_for(lambda: any("Quiet hours are over" in m.text for m in s.world.sent), 15)
    s.transcript.flush()


async def _mute_button(s: DemoSession, alert: SentMessage) -> None:
    """The admin presses the first button under ``alert``; the bot's answer is shown."""
    world = s.world
    button = alert.reply_markup.rows[0].buttons[0]
    answers = len(world.callback_answers)
    world.press_button(s.stage.bot, s.stage.admin, alert, button.type.data)
    await wait_for(lambda: len(world.callback_answers) > answers, 15)
    answer = world.callback_answers[-1].message if world.callback_answers else "?"
    s.transcript.line(f"\n👆 admin presses [{button.text}] under the first alert → {answer}")


async def preview(s: DemoSession) -> None:
    """A channel followed only through its web preview; its alert carries a translation."""
    t, name = s.transcript, PREVIEW_CHANNEL
    frontline = s.stage.web_channels[name]
    t.line(f"\n🌐 @{name} is public, but the account never joins it: chanwatch reads its web"
           f" preview (t.me/s/{name}), served here by the web stand-in. Its page shows"
           " (demo texts):")
    for post in frontline.posts:
        t.web_post(name, html.unescape(post.text.replace("<br/>", "\n")))
    t.line("   The translator at TRANSLATE_URL is the stand-in too: it answers a"
           " transliteration, labelled as such, not a real translation.")
    await s.say("/translate en")
    before = await s.stored()
    await s.say(f"/watch @{name} preview")
    # the first poll (started by /watch) stores the newest page without alerts
    await s.settle(before + len(frontline.posts))
    alerts = len(s.result.alerts)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    frontline.add_text(PREVIEW_NEW, date=now)
    t.line(f"\n🌐 @{name} publishes a new post on its web page (demo text)")
    t.web_post(name, PREVIEW_NEW)
    t.line("   ⏱ web previews are polled by a scheduled job every PREVIEW_INTERVAL"
           f" (2 min by default, shortened to {PREVIEW_INTERVAL_SHOWN} for the demo);"
           " the demo runs that job now")
    await s.poll_preview(before + len(frontline.posts))
    await s.settle_alerts(alerts + 1)
    await s.say("/translate off")
