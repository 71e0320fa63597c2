"""Translated alerts: ``/translate <lang>`` adds the post's text in another language.

Two providers speak over the app's one shared ``httpx.AsyncClient``: a LibreTranslate-compatible
server (``TRANSLATE_URL``, optional ``TRANSLATE_API_KEY``) or DeepL (``DEEPL_API_KEY``).
Translations are cached per post and language, keyed by a hash of the text, so an alert fanned
out to many chats costs one request and an edited post gets a fresh one. A failing or slow
provider never holds an alert back for longer than the timeout: the alert goes out with a short
note instead. Neither API keys nor URLs ever reach a log line or a note.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from typing import Any, Protocol

import httpx

from bot.render import esc
from bot.store import Store

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_SOURCE_CHARS = 4500  # sent to the provider; DeepL and LibreTranslate both take this easily
MAX_SHOWN_CHARS = 1500  # shown under an alert; Telegram messages end at 4096 characters
_MAX_REASON_CHARS = 100

# Accepted targets of /translate: ISO 639-1 codes, with names for /translate's replies.
LANGS: dict[str, str] = {
    "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian", "bg": "Bulgarian",
    "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "nb": "Norwegian", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "uz": "Uzbek", "vi": "Vietnamese", "zh": "Chinese",
}

# DeepL wants a regional variant for some targets (plain EN and PT are deprecated there).
_DEEPL_TARGETS = {"en": "EN-US", "pt": "PT-BR", "zh": "ZH-HANS"}
DEEPL_FREE_URL = "https://api-free.deepl.com"
DEEPL_PRO_URL = "https://api.deepl.com"


class TranslateError(Exception):
    """A provider could not translate. The message is short and safe to show and log."""


class Provider(Protocol):
    """A translation service."""

    name: str

    async def translate(self, text: str, target: str) -> str:
        """Translate ``text`` into ``target`` (a key of LANGS); raise TranslateError."""
        ...


def check_lang(code: str) -> str:
    """Return the normalised language code, or raise ValueError saying what is accepted."""
    lang = code.strip().lower().replace("_", "-")
    if lang in LANGS:
        return lang
    base = lang.split("-", 1)[0]  # en-GB, pt-BR: the language is what matters here
    if base in LANGS and len(lang) <= 8:
        return base
    shown = code.strip()[:20] or "(nothing)"
    raise ValueError(
        f"unknown language {shown!r}: give a two-letter code such as en, uk, ru, de, pl"
        f" (known: {', '.join(sorted(LANGS))})"
    )


def _reason(message: str, secret: str | None = None) -> str:
    """A provider's own error text made fit for a note: one line, short, never the key."""
    text = " ".join(message.split())
    if secret:
        text = text.replace(secret, "***")
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 1] + "…"
    return text


async def _post_json(client: httpx.AsyncClient, name: str, url: str, body: dict[str, Any],
                     headers: dict[str, str] | None = None,
                     secret: str | None = None) -> Any:
    """POST JSON and return the decoded answer; every failure becomes a TranslateError.

    Messages name the provider and the HTTP status, never the URL (it may carry credentials).
    """
    try:
        response = await client.post(url, json=body, headers=headers)
    except httpx.TimeoutException:
        raise TranslateError(f"{name} timed out") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # str(exc) may quote the URL
        raise TranslateError(f"{name} unreachable ({type(exc).__name__})") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400:
        detail = ""
        if isinstance(payload, dict):
            raw = payload.get("error") or payload.get("message")
            if isinstance(raw, str) and raw.strip():
                detail = ": " + _reason(raw, secret)
        raise TranslateError(f"{name} error (HTTP {response.status_code}{detail})")
    if payload is None:
        raise TranslateError(f"{name} sent an unreadable answer")
    return payload


class LibreTranslate:
    """A LibreTranslate-compatible server (self-hosted, or libretranslate.com with a key)."""

    name: str = "LibreTranslate"

    def __init__(self, client: httpx.AsyncClient, url: str, api_key: str | None = None) -> None:
        self._client = client
        self._endpoint = url.rstrip("/") + "/translate"
        self._api_key = api_key or None

    def __repr__(self) -> str:
        return f"LibreTranslate(api_key={'set' if self._api_key else 'none'})"

    async def translate(self, text: str, target: str) -> str:
        """Translate ``text`` into ``target``, letting the server detect the source language."""
        body: dict[str, Any] = {"q": text, "source": "auto", "target": target, "format": "text"}
        if self._api_key:
            body["api_key"] = self._api_key
        payload = await _post_json(self._client, self.name, self._endpoint, body,
                                   secret=self._api_key)
        translated = payload.get("translatedText") if isinstance(payload, dict) else None
        if not isinstance(translated, str) or not translated.strip():
            raise TranslateError(f"{self.name} sent no translation")
        return translated


class DeepL:
    """DeepL API v2 (Free keys end in ``:fx`` and use their own host)."""

    name: str = "DeepL"

    def __init__(self, client: httpx.AsyncClient, api_key: str,
                 base_url: str | None = None) -> None:
        self._client = client
        self._api_key = api_key
        default = DEEPL_FREE_URL if api_key.endswith(":fx") else DEEPL_PRO_URL
        self.base_url = (base_url or default).rstrip("/")

    def __repr__(self) -> str:
        return "DeepL(api_key=set)"

    @staticmethod
    def target_lang(lang: str) -> str:
        """DeepL's ``target_lang`` for one of LANGS (``en`` → ``EN-US``, ``pt`` → ``PT-BR``)."""
        return _DEEPL_TARGETS.get(lang, lang.upper())

    async def translate(self, text: str, target: str) -> str:
        """Translate ``text`` into ``target``; DeepL detects the source language."""
        payload = await _post_json(
            self._client, self.name, f"{self.base_url}/v2/translate",
            {"text": [text], "target_lang": self.target_lang(target)},
            headers={"Authorization": f"DeepL-Auth-Key {self._api_key}"},
            secret=self._api_key,
        )
        try:
            translated = payload["translations"][0]["text"]
        except (KeyError, IndexError, TypeError):
            translated = None
        if not isinstance(translated, str) or not translated.strip():
            raise TranslateError(f"{self.name} sent no translation")
        return translated


def make_provider(client: httpx.AsyncClient, *, translate_url: str | None = None,
                  translate_api_key: str | None = None, deepl_api_key: str | None = None,
                  deepl_url: str | None = None) -> Provider | None:
    """The configured provider: TRANSLATE_URL if set, else DeepL if DEEPL_API_KEY is, else None.

    Pass the settings' plain strings (``Secret.value`` for the keys).
    """
    if translate_url:
        return LibreTranslate(client, translate_url, translate_api_key or None)
    if deepl_api_key:
        return DeepL(client, deepl_api_key, deepl_url or None)
    return None


def source_hash(text: str) -> str:
    """The cache key of a post's text: a new text (an edit) means a new translation."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cap(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space near the end when there is one."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", limit - 200)
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + "…"


class Translations:
    """Translations of post texts for alerts: cached, bounded in time, never raising."""

    def __init__(self, store: Store, provider: Provider | None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.store = store
        self.provider = provider
        self.timeout = timeout
        # one provider call per post, language and text at a time: the others wait for it
        # and then read the cache (an alert fans out to many chats at once)
        self._locks: weakref.WeakValueDictionary[tuple[int, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary())

    async def for_alert(self, post_id: int, text: str,
                        lang: str) -> tuple[str | None, str | None]:
        """Return ``(translation, None)``, or ``(None, note)`` when there is none to show.

        The translation comes from the cache or from the provider (and is cached then).
        A provider failure, a timeout or a missing provider give ``(None, short note)``;
        an empty text gives ``(None, None)``: nothing to add. Waiting for the provider
        (including for another alert's call for the same post) takes at most ``timeout``.
        """
        try:
            return await self._for_alert(post_id, text, lang)
        except Exception:
            log.exception("translation of post %s into %s failed", post_id, lang)
            return None, "translation unavailable: internal error"

    async def _for_alert(self, post_id: int, text: str,
                         lang: str) -> tuple[str | None, str | None]:
        if not text.strip():
            return None, None
        try:
            lang = check_lang(lang)
        except ValueError:
            return None, "translation unavailable: unknown language"
        digest = source_hash(text)
        cached = await self.store.translations.get(post_id, lang, digest)
        if cached is not None:
            return cached, None
        if self.provider is None:
            return None, "translation unavailable: no provider configured"
        deadline = asyncio.get_running_loop().time() + self.timeout
        key = (post_id, lang, digest)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError:
            return None, "translation unavailable: timed out"
        try:
            cached = await self.store.translations.get(post_id, lang, digest)
            if cached is not None:  # another alert of this post just translated it
                return cached, None
            return await self._translate(post_id, text, lang, digest, deadline)
        finally:
            lock.release()

    async def _translate(self, post_id: int, text: str, lang: str, digest: str,
                         deadline: float) -> tuple[str | None, str | None]:
        """Ask the provider (within the deadline) and cache what it says."""
        assert self.provider is not None
        name = self.provider.name
        try:
            async with asyncio.timeout_at(deadline):
                translated = await self.provider.translate(_cap(text, MAX_SOURCE_CHARS), lang)
        except TimeoutError:
            log.warning("translation via %s of post %s timed out after %.1f s",
                        name, post_id, self.timeout)
            return None, "translation unavailable: timed out"
        except TranslateError as exc:
            log.warning("translation via %s of post %s failed: %s", name, post_id, exc)
            return None, f"translation unavailable: {exc}"
        try:
            await self.store.translations.save(post_id, lang, digest, translated, name)
        except Exception:  # the alert still gets its translation; the next one asks again
            log.exception("caching the translation of post %s failed", post_id)
        return translated, None


def render_translation(translated: str | None, note: str | None, lang: str) -> str:
    """The HTML block under an alert: the translation (capped) or the note; "" for neither."""
    if translated is not None and translated.strip():
        shown = _cap(translated.strip(), MAX_SHOWN_CHARS)
        return f"\n🌐 <b>{esc(lang.upper())}</b>: <i>{esc(shown)}</i>"
    if note:
        return f"\n🌐 <i>{esc(note)}</i>"
    return ""
