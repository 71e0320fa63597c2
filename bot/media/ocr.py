"""Text in images: tesseract reads each stored picture once; the text is indexed and matched.

``OCR=rus+ukr+eng`` (tesseract's language list; off by default) turns it on. One owned task
works through the pictures the downloader stored, newest first (``post_media.ocr``,
migrations/0011_ocr.sql), one at a time in a worker thread, so OCR never holds up ingestion,
alerts or downloads, and uses at most one core: tesseract's OpenMP threads are limited to one
(``OMP_THREAD_LIMIT=1`` unless the environment sets it), which on a 2-core machine reads a
picture in 0.3 s instead of 1.6 s (its threads spin against each other and the service).
What it read is kept per file (``media_text``: a picture reposted by ten channels is read
once) and handed to ``IngestService.apply_image_text``, which indexes it for search and runs
the rules on it.

Only words tesseract is confident of are kept (``MIN_CONFIDENCE``): on photos without text it
otherwise reads shapes as stray letters, which would match short rules. A picture tesseract
cannot read (a damaged file, a timeout) is recorded with its error and not tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.media.files import MediaFiles
from bot.store import Store
from bot.store.media import OcrItem

log = logging.getLogger(__name__)
MIN_CONFIDENCE = 60  # tesseract's per-word confidence (0-100) below which a word is dropped
TIMEOUT = 60.0  # seconds for one picture; tesseract is killed past it
SMALL_SIDE = 1000  # pictures narrower than this are enlarged twice before reading
LARGE_SIDE = 4000  # and larger ones reduced to this (time grows with the pixels)


class OcrUnavailable(RuntimeError):
    """tesseract, or one of the languages asked for, is not installed."""


@dataclass(frozen=True)
class OcrReader:
    """Reads the text of a picture with tesseract (through pytesseract)."""

    langs: str  # tesseract's list, e.g. rus+ukr+eng
    timeout: float = TIMEOUT
    min_confidence: int = MIN_CONFIDENCE

    def check(self) -> None:
        """Raise OcrUnavailable, saying what to install, unless tesseract can read ``langs``."""
        import pytesseract

        if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
            raise OcrUnavailable(
                f"OCR={self.langs}: tesseract is not installed (Debian: apt install"
                " tesseract-ocr tesseract-ocr-rus tesseract-ocr-ukr); or set OCR=off")
        have = set(pytesseract.get_languages(config=""))
        missing = [lang for lang in self.langs.split("+") if lang not in have]
        if missing:
            raise OcrUnavailable(
                f"OCR={self.langs}: tesseract has no data for {', '.join(missing)} (Debian: apt"
                f" install {' '.join('tesseract-ocr-' + m for m in missing)}); installed: "
                f"{'+'.join(sorted(have - {'osd'}))}")

    def read(self, path: Path) -> str:
        """The picture's text, line by line, confident words only ('' when there is none).

        Raises whatever Pillow or tesseract raise for an unreadable file or a timeout.
        """
        import pytesseract
        from PIL import Image, ImageOps

        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # pytesseract passes os.environ on

        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("L")
        side = max(image.size)
        if side < SMALL_SIDE:
            image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
        elif side > LARGE_SIDE:
            image.thumbnail((LARGE_SIDE, LARGE_SIDE), Image.Resampling.LANCZOS)
        data = pytesseract.image_to_data(image, lang=self.langs, timeout=self.timeout,
                                         output_type=pytesseract.Output.DICT)
        lines: dict[tuple[int, int, int], list[str]] = {}
        for i, word in enumerate(data["text"]):
            word = word.strip()
            if word and float(data["conf"][i]) >= self.min_confidence:
                key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
                lines.setdefault(key, []).append(word)
        return "\n".join(" ".join(words) for _, words in sorted(lines.items()))


TextFound = Callable[[OcrItem, str], Awaitable[int | None]]


class OcrWorker:
    """Reads the text of stored pictures, newest first, and hands it on."""

    def __init__(self, store: Store, files: MediaFiles, reader: OcrReader,
                 on_text: TextFound, *, idle_poll: float = 60.0) -> None:
        self._store = store
        self._files = files
        self.reader = reader
        self._on_text = on_text
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self.read = 0  # pictures read by tesseract in this run
        self.reused = 0  # pictures whose text was read before (the same file in another post)
        self.failed = 0

    def wake(self) -> None:
        """A picture was stored: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Work through the pictures for as long as the service runs."""
        while True:
            self._wake.clear()
            try:
                if await self.step():
                    continue
            except Exception:  # the database failing, or a bug: the queue stays as it is
                log.exception("OCR step failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_poll)

    async def drain(self) -> int:
        """Read every picture waiting now (bench and tests); return how many."""
        handled = 0
        while await self.step():
            handled += 1
        return handled

    async def step(self) -> bool:
        """Read and hand on the newest waiting picture; False when none waits."""
        item = await self._store.media.next_ocr()
        if item is None:
            return False
        text = await self._store.media.read_text(item.sha256, self.reader.langs)
        if text is None:
            text = await self._read(item)
        else:
            self.reused += 1
        await self._on_text(item, text)
        return True

    async def _read(self, item: OcrItem) -> str:
        path = self._files.path(item.sha256, item.ext)
        try:
            text = await asyncio.to_thread(self.reader.read, path)
        except Exception as exc:  # damaged file, timeout, tesseract failing on this picture
            self.failed += 1
            log.warning("OCR of %s (post %d) failed: %s: %s", path.name, item.post_id,
                        type(exc).__name__, exc)
            await self._store.media.save_text(item.sha256, self.reader.langs, "",
                                              f"{type(exc).__name__}: {exc}")
            return ""
        self.read += 1
        await self._store.media.save_text(item.sha256, self.reader.langs, text)
        return text
