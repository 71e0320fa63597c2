"""Translated alerts over real HTTP on 127.0.0.1: providers, the cache, timeouts, rendering."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.http.translate import (
    DEEPL_FREE_URL,
    DEEPL_PRO_URL,
    LANGS,
    MAX_SOURCE_CHARS,
    DeepL,
    LibreTranslate,
    TranslateError,
    Translations,
    check_lang,
    make_provider,
    render_translation,
    source_hash,
)
from bot.models import Post
from bot.store import Database, Store
from tests.support.translate_server import TranslateServer

TEXT = "Сбит беспилотник над Белгородом"


@pytest.fixture
async def server() -> AsyncIterator[TranslateServer]:
    srv = await TranslateServer.start()
    yield srv
    await srv.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def make_post(store: Store, message_id: int = 1, text: str = TEXT) -> int:
    """Store a channel and one post of it; return the post's id."""
    await store.channels.add(777, "kanal", "Канал", 5, added_by=500)
    result = await store.posts.save(Post(
        channel_id=777, message_id=message_id,
        date=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), text=text,
        permalink=f"https://t.me/kanal/{message_id}",
    ), [], [])
    return result.post_id


# ---------------------------------------------------------------- providers
async def test_libretranslate_translates_with_auto_source(
        server: TranslateServer, client: httpx.AsyncClient) -> None:
    provider = LibreTranslate(client, server.url + "/")
    assert await provider.translate(TEXT, "en") == f"[en] {TEXT}"
    [request] = server.requests
    assert request.path == "/translate"
    assert request.body == {"q": TEXT, "source": "auto", "target": "en", "format": "text"}


async def test_libretranslate_sends_the_api_key(client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(api_key="s3cret-key")
    try:
        assert await LibreTranslate(client, srv.url, "s3cret-key").translate("a", "de") == "[de] a"
        assert srv.requests[0].body["api_key"] == "s3cret-key"
        with pytest.raises(TranslateError, match=r"HTTP 403: Invalid API key"):
            await LibreTranslate(client, srv.url, "wrong").translate("a", "de")
        with pytest.raises(TranslateError, match="HTTP 403"):
            await LibreTranslate(client, srv.url).translate("a", "de")
        assert "api_key" not in srv.requests[-1].body
    finally:
        await srv.close()


async def test_deepl_translates_with_auth_header_and_regional_targets(
        client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(deepl_key="abc-123:fx")
    try:
        provider = DeepL(client, "abc-123:fx", base_url=srv.url)
        assert await provider.translate(TEXT, "en") == f"[EN-US] {TEXT}"
        assert await provider.translate(TEXT, "uk") == f"[UK] {TEXT}"
        assert await provider.translate(TEXT, "pt") == f"[PT-BR] {TEXT}"
        first = srv.requests[0]
        assert first.path == "/v2/translate"
        assert first.headers["authorization"] == "DeepL-Auth-Key abc-123:fx"
        assert first.headers["content-type"] == "application/json"
        assert first.body == {"text": [TEXT], "target_lang": "EN-US"}
        with pytest.raises(TranslateError, match=r"DeepL error \(HTTP 403"):
            await DeepL(client, "other-key", base_url=srv.url).translate(TEXT, "en")
    finally:
        await srv.close()


async def test_deepl_host_follows_the_key_kind(client: httpx.AsyncClient) -> None:
    assert DeepL(client, "k:fx").base_url == DEEPL_FREE_URL
    assert DeepL(client, "k").base_url == DEEPL_PRO_URL
    assert DeepL(client, "k:fx", "http://127.0.0.1:9/").base_url == "http://127.0.0.1:9"
    assert "k:fx" not in repr(DeepL(client, "k:fx"))
    assert "key" not in repr(LibreTranslate(client, "http://x", "key")).replace("api_key", "")


async def test_make_provider_prefers_translate_url(client: httpx.AsyncClient) -> None:
    assert make_provider(client) is None
    assert isinstance(make_provider(client, deepl_api_key="k:fx"), DeepL)
    chosen = make_provider(client, translate_url="http://lt", deepl_api_key="k:fx")
    assert isinstance(chosen, LibreTranslate)


async def test_unreachable_provider_is_a_translate_error(client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start()
    url = srv.url
    await srv.close()  # nothing listens there any more
    with pytest.raises(TranslateError, match="unreachable") as caught:
        await LibreTranslate(client, url).translate("a", "en")
    assert url not in str(caught.value)


# ---------------------------------------------------------------- languages
def test_check_lang_accepts_codes_and_explains_the_rest() -> None:
    assert {"en", "uk", "ru", "de", "pl", "ka", "hy", "be", "kk", "he", "fa"} <= set(LANGS)
    assert check_lang(" EN ") == "en"
    assert check_lang("pt-BR") == "pt"
    assert check_lang("en_GB") == "en"
    for bad in ("xx", "english", "", "<b>"):
        with pytest.raises(ValueError, match="two-letter code"):
            check_lang(bad)


# ---------------------------------------------------------------- Translations
async def test_translates_via_libretranslate_and_caches(
        store: Store, server: TranslateServer, client: httpx.AsyncClient) -> None:
    post_id = await make_post(store)
    translations = Translations(store, LibreTranslate(client, server.url))
    assert await translations.for_alert(post_id, TEXT, "en") == (f"[en] {TEXT}", None)
    assert server.count == 1
    # the second alert of the same post in the same language: from the database
    assert await translations.for_alert(post_id, TEXT, "EN") == (f"[en] {TEXT}", None)
    assert server.count == 1
    # a fresh Translations (a restart) still finds it
    again = Translations(store, LibreTranslate(client, server.url))
    assert await again.for_alert(post_id, TEXT, "en") == (f"[en] {TEXT}", None)
    assert server.count == 1


async def test_translates_via_deepl(store: Store, db: Database, client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(deepl_key="key:fx")
    try:
        post_id = await make_post(store)
        translations = Translations(store, DeepL(client, "key:fx", base_url=srv.url))
        assert await translations.for_alert(post_id, TEXT, "en") == (f"[EN-US] {TEXT}", None)
        assert srv.count == 1
        row = await db.fetchone("SELECT provider FROM translations WHERE post_id = ?",
                                      (post_id,))
        assert row is not None and row["provider"] == "DeepL"
    finally:
        await srv.close()


async def test_another_language_or_an_edited_text_asks_again(
        store: Store, server: TranslateServer, client: httpx.AsyncClient) -> None:
    post_id = await make_post(store)
    translations = Translations(store, LibreTranslate(client, server.url))
    await translations.for_alert(post_id, TEXT, "en")
    assert await translations.for_alert(post_id, TEXT, "uk") == (f"[uk] {TEXT}", None)
    assert server.count == 2
    edited = TEXT + " (обновлено)"
    assert await translations.for_alert(post_id, edited, "en") == (f"[en] {edited}", None)
    assert server.count == 3
    assert await translations.for_alert(post_id, edited, "en") == (f"[en] {edited}", None)
    assert await translations.for_alert(post_id, edited, "uk") == (f"[uk] {edited}", None)
    assert server.count == 4


async def test_concurrent_alerts_of_one_post_make_one_request(
        store: Store, client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(delay=0.1)
    try:
        post_id = await make_post(store)
        translations = Translations(store, LibreTranslate(client, srv.url))
        results = await asyncio.gather(
            *(translations.for_alert(post_id, TEXT, "en") for _ in range(5)))
        assert results == [(f"[en] {TEXT}", None)] * 5
        assert srv.count == 1
    finally:
        await srv.close()


async def test_timeout_sends_the_alert_untranslated_quickly(
        store: Store, client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(delay=2.0)
    try:
        post_id = await make_post(store)
        translations = Translations(store, LibreTranslate(client, srv.url), timeout=0.3)
        started = time.monotonic()
        translated, note = await translations.for_alert(post_id, TEXT, "en")
        elapsed = time.monotonic() - started
        assert translated is None
        assert note == "translation unavailable: timed out"
        assert elapsed < 1.5
        assert srv.count == 1
        # nothing cached
        assert await store.translations.get(post_id, "en", source_hash(TEXT)) is None
    finally:
        await srv.close()


async def test_waiting_for_another_alerts_call_also_ends_at_the_timeout(
        store: Store, client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(delay=2.0)
    try:
        post_id = await make_post(store)
        translations = Translations(store, LibreTranslate(client, srv.url), timeout=0.3)
        started = time.monotonic()
        results = await asyncio.gather(
            *(translations.for_alert(post_id, TEXT, "en") for _ in range(3)))
        assert time.monotonic() - started < 1.5
        assert results == [(None, "translation unavailable: timed out")] * 3
        assert srv.count == 1
    finally:
        await srv.close()


async def test_provider_error_gives_a_note_and_is_not_cached(
        store: Store, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    srv = await TranslateServer.start(fail=(500, "model not loaded"))
    try:
        post_id = await make_post(store)
        translations = Translations(store, LibreTranslate(client, srv.url))
        with caplog.at_level(logging.WARNING, logger="bot.http.translate"):
            translated, note = await translations.for_alert(post_id, TEXT, "en")
        assert translated is None
        assert note == ("translation unavailable: LibreTranslate error"
                        " (HTTP 500: model not loaded)")
        assert "HTTP 500" in caplog.text
        srv.fail = None  # the provider recovers: the next alert is translated
        assert await translations.for_alert(post_id, TEXT, "en") == (f"[en] {TEXT}", None)
        assert srv.count == 2
    finally:
        await srv.close()


async def test_bad_request_gives_a_note(store: Store, client: httpx.AsyncClient) -> None:
    srv = await TranslateServer.start(fail=(400, "ka is not supported"))
    try:
        post_id = await make_post(store)
        translations = Translations(store, LibreTranslate(client, srv.url))
        assert await translations.for_alert(post_id, TEXT, "ka") == (
            None, "translation unavailable: LibreTranslate error (HTTP 400: ka is not supported)")
    finally:
        await srv.close()


async def test_api_keys_and_urls_never_reach_notes_or_logs(
        store: Store, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    srv = await TranslateServer.start(api_key="right-key", fail=(403, "bad key wrong-key"))
    try:
        post_id = await make_post(store)
        translations = Translations(store, LibreTranslate(client, srv.url, "wrong-key"))
        with caplog.at_level(logging.DEBUG):
            translated, note = await translations.for_alert(post_id, TEXT, "en")
        assert translated is None and note is not None
        assert "HTTP 403" in note
        ours = "\n".join(r.getMessage() for r in caplog.records
                         if r.name.startswith("bot."))
        assert "translation via LibreTranslate" in ours
        for text in (note, ours, caplog.text):  # caplog.text: httpx's and aiosqlite's too
            assert "wrong-key" not in text
        for text in (note, ours):  # httpx logs URLs at INFO: the app quiets it to WARNING
            assert srv.url not in text
    finally:
        await srv.close()


async def test_no_provider_gives_a_note_but_uses_the_cache(
        store: Store, server: TranslateServer, client: httpx.AsyncClient) -> None:
    post_id = await make_post(store)
    assert await Translations(store, None).for_alert(post_id, TEXT, "en") == (
        None, "translation unavailable: no provider configured")
    await Translations(store, LibreTranslate(client, server.url)).for_alert(post_id, TEXT, "en")
    assert await Translations(store, None).for_alert(post_id, TEXT, "en") == (
        f"[en] {TEXT}", None)


async def test_empty_text_needs_no_translation(
        store: Store, server: TranslateServer, client: httpx.AsyncClient) -> None:
    post_id = await make_post(store, text="")
    translations = Translations(store, LibreTranslate(client, server.url))
    assert await translations.for_alert(post_id, "", "en") == (None, None)
    assert await translations.for_alert(post_id, "  \n", "en") == (None, None)
    assert server.count == 0


async def test_unknown_language_gives_a_note(
        store: Store, server: TranslateServer, client: httpx.AsyncClient) -> None:
    post_id = await make_post(store)
    translations = Translations(store, LibreTranslate(client, server.url))
    assert await translations.for_alert(post_id, TEXT, "klingon") == (
        None, "translation unavailable: unknown language")
    assert server.count == 0


async def test_long_text_is_capped_before_sending(
        store: Store, server: TranslateServer, client: httpx.AsyncClient) -> None:
    long_text = "слово " * 2000
    post_id = await make_post(store, text=long_text)
    translations = Translations(store, LibreTranslate(client, server.url))
    translated, note = await translations.for_alert(post_id, long_text, "en")
    assert note is None and translated is not None
    sent = server.requests[0].body["q"]
    assert len(sent) <= MAX_SOURCE_CHARS
    assert sent.endswith("слово…")


async def test_a_failing_cache_write_still_returns_the_translation(
        store: Store, server: TranslateServer, client: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture) -> None:
    translations = Translations(store, LibreTranslate(client, server.url))
    with caplog.at_level(logging.ERROR, logger="bot.http.translate"):
        # no such post: the foreign key refuses the cache row
        assert await translations.for_alert(424242, TEXT, "en") == (f"[en] {TEXT}", None)
    assert "caching the translation" in caplog.text


# ---------------------------------------------------------------- rendering
def test_render_translation_escapes_and_caps() -> None:
    assert render_translation("<b>Drone</b> & co", None, "en") == (
        "\n🌐 <b>EN</b>: <i>&lt;b&gt;Drone&lt;/b&gt; &amp; co</i>")
    assert render_translation(None, "translation unavailable: <x>", "en") == (
        "\n🌐 <i>translation unavailable: &lt;x&gt;</i>")
    assert render_translation(None, None, "en") == ""
    long = render_translation("word " * 1000, None, "uk")
    assert long.startswith("\n🌐 <b>UK</b>: <i>word word")
    assert long.endswith("word…</i>")
    assert len(long) < 1550

