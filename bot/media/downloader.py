"""The media downloader: one owned task working through the persistent queue, newest first.

Posts are stored with their photo or document filed in ``post_media`` (bot/store/media.py),
in the post's own transaction; this task then downloads them one at a time through the user
account, so ingestion and alerts never wait for a file, and a restart resumes where the queue
stands. Newest first: a live post's photo goes before the backlog of a catch-up or backfill,
and the file most likely to be deleted soon (a fresh post) is fetched while it is there.

What can happen to one download, and what follows:
- a flood wait: the task sleeps it out (nothing else is downloaded meanwhile) and tries the same
  file again; the attempt is not counted;
- a network or server error, or the disk refusing the write: the file waits
  ``retry_base * 2**attempts`` (at most an hour) and is tried again, up to ``max_attempts``;
- an expired file reference: refreshed by reading the message again (bot/telegram/media.py);
  a message deleted meanwhile leaves the file ``gone``;
- a document over ``max_mb`` (0: photos only) is skipped as ``too_large``; a file that would
  take the store past ``quota_bytes`` is skipped as ``quota`` and the admins are told once
  per quota; both are queued again at the next start, when the limits may have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.media.files import MediaFiles, extension
from bot.media.phash import SAME_IMAGE_DISTANCE, image_phash
from bot.models import Channel
from bot.services.notify import AdminNotifier
from bot.services.ports import FloodWait, MediaGone, MediaRefused, MediaSource, MediaTransient
from bot.store import Store
from bot.store.media import FAILED, GONE, QUOTA, TOO_LARGE, QueuedMedia

log = logging.getLogger(__name__)
_MB = 1 << 20
MAX_RETRY_DELAY = dt.timedelta(hours=1)
FLOOD_MARGIN = 1.0


@dataclass(frozen=True)
class MediaLimits:
    """What the downloader may fetch and keep."""

    max_mb: int = 50  # documents (video, voice, ...) up to this many MiB; 0: photos only
    quota_bytes: int = 0  # the whole store; 0: no limit
    retry_base: dt.timedelta = dt.timedelta(seconds=30)
    max_attempts: int = 8


class MediaDownloader:
    """Downloads queued media into the content-addressed store."""

    def __init__(
        self, store: Store, source: MediaSource, files: MediaFiles, clock: Clock,
        admins: AdminNotifier, limits: MediaLimits | None = None, *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        idle_poll: float = 60.0,
    ) -> None:
        self._store = store
        self._source = source
        self.files = files
        self._clock = clock
        self._admins = admins
        self.limits = limits or MediaLimits()
        self._sleep = sleep
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._used: int | None = None  # bytes stored, read once and then kept up to date
        self.on_stored: Callable[[], None] | None = None  # told when a file is stored (OCR)
        self.flood_waits = 0
        self.downloaded = 0  # files fetched in this run (stored or found already stored)

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def prepare(self) -> None:
        """Start-of-run housekeeping: leftovers of interrupted downloads, skipped rows."""
        removed = await asyncio.to_thread(self.files.clear_temp)
        if removed:
            log.info("removed %d partial downloads left by an earlier run", removed)
        requeued = await self._store.media.requeue_skipped()
        if requeued:
            log.info("%d media skipped for a limit are queued again", requeued)
        self._used = await self._store.media.total_bytes()

    async def run(self) -> None:
        """Work through the queue for as long as the service runs."""
        while True:  # nothing stops the task but the service's shutdown
            try:
                await self.prepare()
                break
            except Exception:
                log.exception("the media store cannot be prepared; trying again in a minute")
                await self._sleep(self._idle_poll)
        while True:
            self._wake.clear()
            try:
                if await self.step():
                    continue
                idle = await self._idle_seconds()
            except Exception:  # a bug, or the database failing: the queue stays as it is
                log.exception("media download step failed; trying again shortly")
                idle = self._idle_poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)

    async def drain(self) -> int:
        """Handle every download that is due now (bench and tests); return how many."""
        if self._used is None:
            await self.prepare()
        handled = 0
        while await self.step():
            handled += 1
        return handled

    async def _idle_seconds(self) -> float:
        retry_at = await self._store.media.next_retry_at()
        if retry_at is None:
            return self._idle_poll
        wait = (retry_at - self._clock.now()).total_seconds()
        return min(self._idle_poll, max(0.05, wait))

    async def step(self) -> bool:
        """Handle the newest due download; False when none is due."""
        item = await self._store.media.next_due()
        if item is None:
            return False
        await self._one(item)
        return True

    async def _one(self, item: QueuedMedia) -> None:
        f, limits = item.file, self.limits
        if f.kind != "photo" and f.size is not None and f.size > limits.max_mb * _MB:
            why = ("MEDIA_MAX_MB=0: photos only" if limits.max_mb == 0 else
                   f"{f.size / _MB:.1f} MB is over MEDIA_MAX_MB={limits.max_mb}")
            await self._store.media.give_up(item, TOO_LARGE, why)
            return
        if self._used is None:
            self._used = await self._store.media.total_bytes()
        if limits.quota_bytes and self._used + (f.size or 0) > limits.quota_bytes:
            await self._store.media.give_up(item, QUOTA, "MEDIA_MAX_GB reached")
            await self._tell_quota()
            return
        channel = await self._store.channels.get(item.channel_id)
        if channel is None:
            await self._store.media.give_up(item, FAILED, "the channel is not known")
            return
        tmp = self.files.tmp / f"{item.post_id}-{f.file_id}.part"
        try:
            self.files.make_temp()
            await self._source.download(channel, item.message_id, f, tmp)
            stored = await asyncio.to_thread(self.files.put, tmp,
                                             extension(f.mime, f.file_name))
        except FloodWait as exc:
            self.flood_waits += 1
            log.warning("flood wait %ds downloading media; waiting", exc.seconds)
            await self._sleep(exc.seconds + FLOOD_MARGIN)
            return
        except MediaGone as exc:
            await self._store.media.give_up(item, GONE, str(exc))
            return
        except MediaRefused as exc:
            log.warning("media of post %d/%d refused: %s", item.channel_id, item.message_id, exc)
            await self._store.media.give_up(item, FAILED, str(exc))
            return
        except (MediaTransient, OSError) as exc:
            await self._retry(item, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:  # a bug or an unreadable row: counted, never retried forever
            log.exception("media of post %d/%d: unexpected failure", item.channel_id,
                          item.message_id)
            await self._retry(item, f"{type(exc).__name__}: {exc}")
            return
        finally:
            with contextlib.suppress(OSError):  # a failing disk may refuse this too
                tmp.unlink(missing_ok=True)
        phash = None
        if f.mime.startswith(("image/", "video/")) and not await self._store.media.has_phash(
                stored.sha256):  # new, or stored before a crash kept its row from commit
            phash = (await asyncio.to_thread(image_phash, self.files.path(stored.sha256,
                                                                          stored.ext))
                     if f.mime.startswith("image/") else await self._frame_phash(channel, item))
        await self._store.media.stored(item, stored.sha256, stored.ext, stored.size, phash,
                                       same_image=SAME_IMAGE_DISTANCE)
        self.downloaded += 1
        if self.on_stored is not None:
            self.on_stored()
        if stored.new:
            self._used += stored.size

    async def _frame_phash(self, channel: Channel, item: QueuedMedia) -> str | None:
        """The perceptual hash of a video's first frame: Telegram's thumbnail of it (a few
        kB; decoding the video would need ffmpeg). None when it has none or it cannot be had:
        the video is kept either way."""
        tmp = self.files.tmp / f"{item.post_id}-{item.file.file_id}.thumb"
        try:
            if not await self._source.download_thumb(channel, item.message_id, item.file, tmp):
                return None
            return await asyncio.to_thread(image_phash, tmp)
        except Exception as exc:  # a flood wait, a refusal, an unreadable picture: no hash
            log.info("no first-frame hash for post %d/%d: %s: %s", item.channel_id,
                     item.message_id, type(exc).__name__, exc)
            return None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    async def _retry(self, item: QueuedMedia, reason: str) -> None:
        attempts = item.attempts + 1
        if attempts >= self.limits.max_attempts:
            log.warning("media of post %d/%d failed %d times, giving up: %s", item.channel_id,
                        item.message_id, attempts, reason)
            await self._store.media.give_up(item, FAILED, f"{attempts} attempts: {reason}")
            return
        delay = min(self.limits.retry_base * (2 ** item.attempts), MAX_RETRY_DELAY)
        log.info("media of post %d/%d failed (%s); again in %s", item.channel_id,
                 item.message_id, reason, delay)
        await self._store.media.retry_later(item, self._clock.now() + delay, reason)

    async def _tell_quota(self) -> None:
        quota = self.limits.quota_bytes
        await self._admins.tell(
            f"⚠️ The media store is full: {(self._used or 0) / _MB:,.0f} MB of the"
            f" {quota / (1 << 30):g} GB that MEDIA_MAX_GB allows. New photos and videos are"
            " no longer downloaded (posts and alerts go on). Raise MEDIA_MAX_GB and restart to"
            " fetch what was skipped, while Telegram still has it.",
            key=f"media-quota:{quota}")
