"""Alerts with the picture (/media on), end to end: the real service on the loopback fake
Telegram sends a chat's alert as the post's photo (the album's first) with the alert as its
caption, waits a bounded time for a photo still being downloaded, splits a long alert into
caption and message, reuses what it uploaded, and edits the caption for "also in"."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from telethon.tl import functions, types

import bot.dispatcher
from bot.models import ButtonSpec, Role
from bot.sandbox.entities import FakeChannel
from bot.services.ports import Outgoing
from bot.telegram.botside import CAPTION_LIMIT
from bot.telegram.split import utf16_len
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until
from tests.support.images import encode, noise_jpeg, scene

MEMBER = 600


async def media_alert_chats(env: Env) -> types.User:
    """The admin (with /media on) and a member (text alerts) both alert on «дрон»."""
    await ask(env, env.admin, "/watch @news_test")
    assert "off: text only" in await ask(env, env.admin, "/media")
    assert "now come as that photo" in await ask(env, env.admin, "/media on")
    assert "on: alerts come as the post's photo" in await ask(env, env.admin, "/media")
    await ask(env, env.admin, "/alert дрон")
    member = env.world.add_user(MEMBER, "Участник")
    await env.running.store.users.grant(MEMBER, Role.MEMBER, ADMIN)
    await ask(env, member, "/alert дрон")
    return member


async def sent_as(env: Env, chat_id: int) -> list[str | None]:
    rows = await env.running.database.fetchall(
        "SELECT sent_as FROM outbox WHERE chat_id = ? AND kind = 'alert' ORDER BY id",
        (chat_id,))
    return [r[0] for r in rows]


async def test_an_alert_goes_as_the_photo_with_the_alert_as_caption(env: Env) -> None:
    await media_alert_chats(env)
    data = noise_jpeg(21)
    env.world.post(env.news, "Сбит дрон над городом", media="photo", media_data=data)
    await wait_for(lambda: env.alerts_to(ADMIN) and env.alerts_to(MEMBER), within=10)
    [photo_alert] = env.alerts_to(ADMIN)
    assert photo_alert.photo == data  # the stored file, uploaded by the bot
    assert photo_alert.text.startswith("🔔") and "<strong>дрон</strong>" in photo_alert.html
    assert photo_alert.reply_markup is not None  # the mute and open buttons stay
    assert utf16_len(photo_alert.text) <= CAPTION_LIMIT
    # a chat without /media on gets the text alert as before
    [text_alert] = env.alerts_to(MEMBER)
    assert text_alert.photo is None and "[photo]" not in text_alert.text
    async def marked() -> bool:  # the dispatcher records the send right after it
        return await env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'alert'"
                               " AND status = 'sent'") == 2
    await wait_until(marked)
    assert await sent_as(env, ADMIN) == ["photo"] and await sent_as(env, MEMBER) == [None]
    # /similar as a reply to the photo alert finds its picture
    # (the alert's message id is the photo's)
    reply = env.world.private_message(env.bot, env.admin, "/similar",
                                      reply_to=photo_alert.msg_id)
    await wait_for(lambda: any(m.reply_to == reply.id for m in env.world.sent_to(ADMIN)))
    answer = next(m for m in env.world.sent_to(ADMIN) if m.reply_to == reply.id)
    assert "not one of my alerts" not in answer.text
    # /media off: text again
    assert "text again" in await ask(env, env.admin, "/media off")
    env.world.post(env.news, "Ещё один дрон", media="photo", media_data=noise_jpeg(22))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=10)
    assert env.alerts_to(ADMIN)[1].photo is None


async def test_the_same_photo_to_many_chats_is_uploaded_once(env: Env) -> None:
    member = await media_alert_chats(env)
    await ask(env, member, "/media on")
    data = noise_jpeg(23)
    env.world.post(env.news, "дрон", media="photo", media_data=data)
    await wait_for(lambda: env.alerts_to(ADMIN) and env.alerts_to(MEMBER), within=10)
    alerts = [env.alerts_to(ADMIN)[0], env.alerts_to(MEMBER)[0]]
    assert [a.photo for a in alerts] == [data, data]
    assert sorted(a.by_reference for a in alerts) == [False, True]
    assert env.running.bot.uploads == 1


async def test_an_album_alert_shows_the_albums_first_photo(env: Env) -> None:
    await media_alert_chats(env)
    first, second = noise_jpeg(24), noise_jpeg(25)
    env.world.post(env.news, "", media="photo", media_data=first, grouped_id=55)
    env.world.post(env.news, "Обломки дрона, второе фото альбома", media="photo",
                   media_data=second, grouped_id=55)
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    assert env.alerts_to(ADMIN)[0].photo == first


async def test_an_alert_waits_for_its_photo_being_downloaded(env: Env) -> None:
    await media_alert_chats(env)
    # the download is held up by a flood wait of a second: the alert waits for it
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_1")
    data = noise_jpeg(26)
    started = time.monotonic()
    env.world.post(env.news, "дрон", media="photo", media_data=data)
    await wait_for(lambda: env.alerts_to(MEMBER), within=5)
    member_at = time.monotonic() - started
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    assert env.alerts_to(ADMIN)[0].photo == data
    assert member_at < 1.0  # the text chat did not wait for the download
    assert time.monotonic() - started >= 1.0


async def test_a_photo_that_does_not_come_in_time_leaves_a_text_alert(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.dispatcher, "PHOTO_WAIT", bot.dispatcher.dt.timedelta(seconds=1))
    await media_alert_chats(env)
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_30")
    started = time.monotonic()
    env.world.post(env.news, "дрон с фото", media="photo", media_data=noise_jpeg(27))
    env.world.post(env.news, "дрон без фото")
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=10)
    first, second = env.alerts_to(ADMIN)
    assert time.monotonic() - started >= 1.0
    assert first.photo is None and "дрон</strong> с фото" in first.html
    assert "без фото" in second.text  # the chat's later alert waited behind it, in order


async def test_a_post_without_a_photo_or_media_off_alerts_as_text(env: Env) -> None:
    await media_alert_chats(env)
    env.world.post(env.news, "дрон, только текст")
    await wait_for(lambda: env.alerts_to(ADMIN), within=5)
    assert env.alerts_to(ADMIN)[0].photo is None
    await env.stop_app()
    env.settings["MEDIA"] = "off"
    await env.start_app()
    assert "MEDIA=off" in await ask(env, env.admin, "/media on")
    env.world.post(env.news, "дрон на фото", media="photo", media_data=noise_jpeg(28))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=5)
    assert env.alerts_to(ADMIN)[1].photo is None


async def test_media_refuses_what_it_does_not_know(env: Env) -> None:
    reply = await ask(env, env.admin, "/media sometimes")
    assert reply.startswith("⚠️") and "/media on" in reply


# ---------------------------------------------------------------- the sender, on the fake
def long_alert(lines: int) -> str:
    return "🔔 <b>Канал</b>\n" + "\n".join(f"строка {i} про <b>дрон</b> и не только"
                                          for i in range(lines))


async def test_a_long_alert_is_a_caption_and_a_message_after_it(env: Env) -> None:
    await ask(env, env.admin, "/start")
    before = len(env.world.sent_to(ADMIN))
    html = long_alert(60)  # ~2,000 characters
    buttons = ((ButtonSpec("Open post ↗", url="https://t.me/news_test/1"),),)
    photo_id = await env.running.bot.deliver(Outgoing(
        ADMIN, html, 4242, buttons, photo=noise_jpeg(29), captioned=True, photo_key="k"))
    photo, rest = env.world.sent_to(ADMIN)[before:]
    assert photo.photo is not None and photo.msg_id == photo_id
    assert utf16_len(photo.text) <= CAPTION_LIMIT and photo.reply_markup is None
    assert rest.photo is None and rest.reply_markup is not None  # buttons under the last
    assert (photo.text + "\n" + rest.text).replace("\n", "") == \
        html.replace("<b>", "").replace("</b>", "").replace("\n", "")
    assert (photo.html + rest.html).count("<strong>дрон</strong>") == 60
    # sent again after a crash (same random id): Telegram recognises it, nothing doubles
    await env.running.bot.deliver(Outgoing(
        ADMIN, html, 4242, buttons, photo=noise_jpeg(29), captioned=True, photo_key="k"))
    assert len(env.world.sent_to(ADMIN)) == before + 2


async def test_an_also_in_edit_changes_the_caption_or_says_it_anew(env: Env) -> None:
    await ask(env, env.admin, "/start")
    short = long_alert(3)
    photo_id = await env.running.bot.deliver(Outgoing(
        ADMIN, short, 4343, photo=noise_jpeg(30), captioned=True, photo_key="e"))
    assert photo_id is not None
    grown = short + "\n↪ also in @other"
    await env.running.bot.deliver(Outgoing(ADMIN, grown, 4344, edit_message_id=photo_id,
                                           captioned=True, fallback_html="↪ also in @other"))
    edit = env.world.edited[-1]
    assert edit.msg_id == photo_id and edit.text.endswith("also in @other")
    assert edit.photo is not None  # still the photo, with a new caption
    # a caption that would pass the limit: the change is said in a new message instead
    before = len(env.world.sent_to(ADMIN))
    await env.running.bot.deliver(Outgoing(
        ADMIN, long_alert(60), 4345, edit_message_id=photo_id, captioned=True,
        fallback_html="↪ also in @other, @third"))
    assert len(env.world.edited) == 1
    [notice] = env.world.sent_to(ADMIN)[before:]
    assert notice.text == "↪ also in @other, @third" and notice.photo is None


async def test_a_photo_whose_reference_expired_is_uploaded_again(env: Env) -> None:
    await ask(env, env.admin, "/start")
    data = noise_jpeg(31)
    await env.running.bot.deliver(Outgoing(ADMIN, "🔔 один", 4400, photo=data,
                                           captioned=True, photo_key="x"))
    first = env.world.sent_to(ADMIN)[-1]
    photo = env.world.files[max(env.world.files)]  # the photo Telegram made of the upload
    env.world.expire_file_reference(photo.id)
    await env.running.bot.deliver(Outgoing(ADMIN, "🔔 два", 4401, photo=data,
                                           captioned=True, photo_key="x"))
    second = env.world.sent_to(ADMIN)[-1]
    assert (first.photo, second.photo) == (data, data)
    assert not second.by_reference and env.running.bot.uploads == 2
    # and the fresh one is reused
    await env.running.bot.deliver(Outgoing(ADMIN, "🔔 три", 4402, photo=data,
                                           captioned=True, photo_key="x"))
    assert env.world.sent_to(ADMIN)[-1].by_reference and env.running.bot.uploads == 2


async def test_a_waiting_alert_spends_no_send_budget(env: Env) -> None:
    """While it waits for its photo, the chat's budget is not spent on looking again."""
    await media_alert_chats(env)
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_2")
    env.world.post(env.news, "дрон", media="photo", media_data=noise_jpeg(32))

    async def waiting() -> bool:
        return await env.count("SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND error ="
                               " 'waiting for its photo'", ADMIN) == 1
    await wait_until(waiting, within=5)
    row = await env.running.database.fetchone(
        "SELECT attempts FROM outbox WHERE chat_id = ? AND kind = 'alert'", (ADMIN,))
    assert row is not None and row[0] == 0  # waiting is not a failed attempt
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    assert env.alerts_to(ADMIN)[0].photo is not None


async def test_also_in_edits_the_photo_alerts_caption(env: Env) -> None:
    other = env.world.add_channel(2345678, "Другой канал", "other_news")
    await media_alert_chats(env)
    await ask(env, env.admin, "/watch @other_news")
    data = noise_jpeg(33)
    original = env.world.post(env.news, "Дрон атаковал подстанцию в Шебекино", media="photo",
                              media_data=data)
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    (alert,) = env.alerts_to(ADMIN)
    assert alert.photo == data
    env.world.post(other, "Дрон атаковал подстанцию в Шебекино", fwd_from_channel=env.news.id,
                   fwd_from_msg_id=original.id)
    await wait_for(lambda: [e for e in env.world.edited if e.peer_id == ADMIN])
    edit = [e for e in env.world.edited if e.peer_id == ADMIN][-1]
    assert edit.msg_id == alert.msg_id and edit.photo == data  # the photo's caption changed
    assert edit.html.endswith('↪ also in <a href="https://t.me/other_news/1">@other_news</a>')
    assert len(env.alerts_to(ADMIN)) == 1


# ---------------------------------------------------------------- "also in" by the picture
async def two_channels(env: Env) -> FakeChannel:
    other = env.world.add_channel(2345678, "Другой канал", "other_news")
    await media_alert_chats(env)
    await ask(env, env.admin, "/watch @other_news")
    return other


async def test_the_same_picture_under_another_text_is_also_in(env: Env) -> None:
    other = await two_channels(env)
    picture = scene(41)
    env.world.post(env.news, "Дрон атаковал подстанцию", media="photo",
                   media_data=encode(picture, quality=92))
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    # another channel posts the picture re-encoded and resized, with a text of its own
    env.world.post(other, "Кадры: обломки дрона у дороги, публикуют очевидцы", media="photo",
                   media_data=encode(picture.resize((480, 360)), quality=60))
    await wait_for(lambda: [e for e in env.world.edited if e.peer_id == ADMIN], within=10)
    edit = [e for e in env.world.edited if e.peer_id == ADMIN][-1]
    assert edit.msg_id == env.alerts_to(ADMIN)[0].msg_id
    assert edit.html.endswith('↪ also in <a href="https://t.me/other_news/1">@other_news</a>')
    await asyncio.sleep(0.5)
    assert len(env.alerts_to(ADMIN)) == 1  # its own alert was dropped before it was sent
    assert await env.count("SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND kind = 'alert'",
                           ADMIN) == 1
    # the member's text alert went out before the picture was hashed, or was dropped too;
    # either way the first alert names the other channel
    await wait_for(lambda: [e for e in env.world.edited if e.peer_id == MEMBER], within=10)
    assert 1 <= len(env.alerts_to(MEMBER)) <= 2
    # the match is kept for digests and search
    assert await env.count("SELECT COUNT(*) FROM matches m JOIN posts p ON p.id = m.post_id"
                           " WHERE p.channel_id = ?", other.id) == 2


async def test_another_picture_or_the_same_channel_alerts_again(env: Env) -> None:
    other = await two_channels(env)
    env.world.post(env.news, "Дрон над городом", media="photo",
                   media_data=encode(scene(42)))
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    env.world.post(other, "Ещё один дрон", media="photo", media_data=encode(scene(43)))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=10)
    env.world.post(env.news, "И снова дрон", media="photo", media_data=encode(scene(42)))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 3, within=10)
    assert [e for e in env.world.edited if e.peer_id == ADMIN] == []


async def test_held_alerts_with_the_same_picture_fold_into_one(env: Env) -> None:
    other = await two_channels(env)
    await ask(env, env.admin, "/media off")
    kyiv = dt.datetime.now(ZoneInfo("Europe/Kyiv"))  # the harness's TIMEZONE
    await ask(env, env.admin, f"/quiet {kyiv - dt.timedelta(hours=1):%H:%M}-"
                              f"{kyiv + dt.timedelta(hours=1):%H:%M}")
    picture = scene(44)
    env.world.post(env.news, "Дрон атаковал подстанцию", media="photo",
                   media_data=encode(picture))
    env.world.post(other, "Другими словами: беспилотный дрон, видео очевидцев", media="photo",
                   media_data=encode(picture, quality=55))

    async def one_held() -> bool:
        stored = await env.count("SELECT COUNT(*) FROM post_media WHERE state = 'stored'")
        held = await env.count("SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND"
                               " status = 'held'", ADMIN)
        return stored == 2 and held == 1
    await wait_until(one_held, within=10)
    row = await env.running.database.fetchone(
        "SELECT also FROM outbox WHERE chat_id = ? AND status = 'held'", (ADMIN,))
    assert row is not None and "@other_news" in row[0]


async def test_dedup_image_wait_holds_text_alerts_for_the_picture(env: Env) -> None:
    """DEDUP_IMAGE_WAIT: a text chat's alert of a photo post waits for the photo's hash, so
    the same picture from another channel is "also in" instead of a second alert."""
    await env.stop_app()
    env.settings["DEDUP_IMAGE_WAIT"] = "5s"
    await env.start_app()
    other = await two_channels(env)
    picture = scene(45)
    env.world.post(env.news, "Дрон атаковал подстанцию", media="photo",
                   media_data=encode(picture, quality=92))
    await wait_for(lambda: env.alerts_to(MEMBER), within=10)
    assert env.alerts_to(MEMBER)[0].photo is None  # a text chat: text, after the hash
    env.world.post(other, "Кадры очевидцев: обломки дрона у дороги", media="photo",
                   media_data=encode(picture.resize((500, 375)), quality=60))
    await wait_for(lambda: [e for e in env.world.edited if e.peer_id == MEMBER], within=10)
    await asyncio.sleep(0.5)
    assert len(env.alerts_to(MEMBER)) == 1
    edit = [e for e in env.world.edited if e.peer_id == MEMBER][-1]
    assert edit.html.endswith('↪ also in <a href="https://t.me/other_news/1">@other_news</a>')
    # a post without a photo does not wait
    started = time.monotonic()
    env.world.post(env.news, "дрон, только текст")
    await wait_for(lambda: len(env.alerts_to(MEMBER)) == 2, within=5)
    assert time.monotonic() - started < 1.0


async def test_a_copy_repost_of_the_same_file_is_also_in_at_once(env: Env) -> None:
    """A channel that reposts a photo as its own post (not a forward) sends Telegram's very
    file: found when the post arrives, before any download, in a text chat too."""
    other = await two_channels(env)
    original = env.world.post(env.news, "Дрон атаковал подстанцию", media="photo",
                              media_data=noise_jpeg(46))
    await wait_for(lambda: env.alerts_to(MEMBER), within=10)
    # every download is held up: the match cannot come from the picture's hash
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_30")
    env.world.post(other, "Наш корреспондент: дрон у подстанции", media_from=original)
    await wait_for(lambda: [e for e in env.world.edited if e.peer_id == MEMBER], within=5)
    edit = [e for e in env.world.edited if e.peer_id == MEMBER][-1]
    assert edit.html.endswith('↪ also in <a href="https://t.me/other_news/1">@other_news</a>')
    assert len(env.alerts_to(MEMBER)) == 1
    assert await env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'alert' AND chat_id = ?",
                           MEMBER) == 1
