"""Text in images, end to end: the real service with OCR on downloads a photo from the
loopback fake Telegram, tesseract reads the Cyrillic text the test drew in it, and the rule
that matches only that text alerts the subscriber, saying so; /search finds the post."""

from __future__ import annotations

import shutil
import time

import pytest
from telethon import helpers
from telethon.tl import types

from bot.media.ocr import OcrUnavailable
from bot.sandbox import SentMessage
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until
from tests.support.images import encode, text_picture

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None,
                                reason="tesseract is not installed (.ci/run installs it)")


def bold(message: SentMessage) -> list[str]:
    """The bold parts of a message as the subscriber's client shows them."""
    text = helpers.add_surrogate(message.text)
    return [helpers.del_surrogate(text[e.offset:e.offset + e.length])
            for e in message.entities if isinstance(e, types.MessageEntityBold)]


async def restart(env: Env, **settings: str) -> None:
    await env.stop_app()
    env.settings.update(settings)
    await env.start_app()


async def test_a_rule_matching_only_the_text_in_a_photo_alerts(env: Env) -> None:
    await restart(env, OCR="rus+ukr+eng")
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Шебекино")
    picture = encode(text_picture(["Взрыв в Шебекино: дроны атакуют",
                                   "Бєлгород і Харків — 12 листопада"]))
    started = time.monotonic()
    env.world.post(env.news, "Прислали подписчики", media="photo", media_data=picture)
    await wait_for(lambda: env.alerts_to(ADMIN), within=30)
    took = time.monotonic() - started
    (alert,) = env.alerts_to(ADMIN)
    assert "Прислали подписчики\n📷 text in image: «Взрыв в Шебекино: дроны атакуют" \
        in alert.text
    # bold: the channel's title and the word in the picture; nothing in the post's own text
    assert bold(alert) == ["Новости <Тест> & Co", "Шебекино"]
    assert took < 10, took  # download + tesseract + send; typically about 1 s here
    reply = await ask(env, env.admin, "/search Шебекино")
    assert reply.startswith("🔎 1 post matches Шебекино"), reply
    assert "📷 text in image: «Взрыв в Шебекино" in reply
    # a post without a photo, and a photo without text, alert nobody
    env.world.post(env.news, "Ничего особенного")
    env.world.post(env.news, "Пейзаж", media="photo",
                   media_data=encode(text_picture([], seed=3)))

    async def read_both() -> bool:
        return await env.count("SELECT COUNT(*) FROM post_media WHERE ocr = 'done'") == 2
    await wait_until(read_both, within=30)
    assert len(env.alerts_to(ADMIN)) == 1


async def test_without_ocr_pictures_wait_and_are_read_when_it_is_turned_on(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Шебекино")
    env.world.post(env.news, "Фото", media="photo",
                   media_data=encode(text_picture(["Обстрел Шебекино"])))

    async def stored() -> bool:
        return await env.count("SELECT COUNT(*) FROM post_media WHERE ocr = 'pending'") == 1
    await wait_until(stored, within=30)
    assert env.alerts_to(ADMIN) == []
    await restart(env, OCR="on")  # "on" is rus+ukr+eng

    async def read() -> bool:
        return await env.count("SELECT COUNT(*) FROM post_media WHERE ocr = 'done'") == 1
    await wait_until(read, within=30)
    # a fresh post (under an hour old): the alert goes, late but not lost
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    assert "📷 text in image: «Обстрел Шебекино»" in env.alerts_to(ADMIN)[0].text


async def test_a_language_tesseract_lacks_stops_the_start_with_what_to_install(
        env: Env) -> None:
    await env.stop_app()
    env.settings.update(OCR="rus+bel")
    with pytest.raises(OcrUnavailable, match="apt install tesseract-ocr-bel"):
        await env.start_app()
    env.settings.update(OCR="off")
    await env.start_app()  # the fixture stops it
