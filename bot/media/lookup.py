"""An alert's picture: ``/similar`` (the stored posts with the same picture) and the photo
a ``/media on`` chat's alert is sent as."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.media.files import MediaFiles
from bot.media.phash import SAME_IMAGE_DISTANCE
from bot.store import Store
from bot.store.media import SimilarPost

log = logging.getLogger(__name__)

NOT_KEPT = {"too_large": "it is larger than MEDIA_MAX_MB",
            "quota": "the media store had reached MEDIA_MAX_GB",
            "gone": "Telegram no longer had it", "failed": "downloading it failed",
            "expired": "it was deleted after RETENTION_DAYS"}


@dataclass(frozen=True)
class SimilarAnswer:
    """The posts found, or why there is nothing to look for (``problem``)."""

    problem: str | None = None
    posts: list[SimilarPost] = field(default_factory=list)


class SimilarImages:
    """Looks an alert's picture up among every stored image."""

    def __init__(self, store: Store, max_distance: int = SAME_IMAGE_DISTANCE) -> None:
        self._store = store
        self.max_distance = max_distance

    async def for_alert(self, chat_id: int, message_id: int, limit: int = 10) -> SimilarAnswer:
        """The posts (other than the alert's own) that carry its picture, nearest first."""
        post_id = await self._store.outbox.alert_post(chat_id, message_id)
        if post_id is None:
            return SimilarAnswer("That message is not one of my alerts in this chat.")
        files = (await self._store.media.of_posts([post_id])).get(post_id, [])
        if not files:
            return SimilarAnswer("The post of that alert carries no photo.")
        hashes = sorted({f.phash for f in files if f.phash})
        if not hashes:
            states = {f.state for f in files}
            if "pending" in states:
                return SimilarAnswer("Its photo is not downloaded yet; try again in a moment.")
            lost = next((NOT_KEPT[s] for s in sorted(states) if s in NOT_KEPT), None)
            if lost:
                return SimilarAnswer(f"Its file was not kept: {lost}.")
            return SimilarAnswer("Its file is not a picture I can compare (a video or a"
                                 " document).")
        found: dict[int, SimilarPost] = {}  # by post: the nearest of its files
        for phash in hashes:
            for hit in await self._store.media.similar(phash, self.max_distance, limit + 1):
                if hit.post_id not in found or hit.distance < found[hit.post_id].distance:
                    found[hit.post_id] = hit
        posts = sorted((h for k, h in found.items() if k != post_id),
                       key=lambda s: (s.distance, -s.date.timestamp(), s.channel_id,
                                      s.message_id))
        return SimilarAnswer(None, posts[:limit])


@dataclass(frozen=True)
class AlertPicture:
    """The photo an alert shows: its bytes, or ``data`` None while it is being downloaded."""

    data: bytes | None
    sha256: str = ""


class AlertPictures:
    """The photo to send a ``/media on`` chat's alert as: the post's, or its album's first."""

    def __init__(self, store: Store, files: MediaFiles) -> None:
        self._store = store
        self._files = files

    async def pending(self, post_id: int) -> bool:
        """Whether the post's photo is still to be downloaded."""
        photo = await self._store.media.alert_photo(post_id)
        return photo is not None and photo.state == "pending"

    async def for_post(self, post_id: int) -> AlertPicture | None:
        """The photo's bytes; ``AlertPicture(None)`` while it is pending; None: no photo to
        show (none, not kept, or its file unreadable)."""
        photo = await self._store.media.alert_photo(post_id)
        if photo is None:
            return None
        if photo.state == "pending":
            return AlertPicture(None)
        if photo.state != "stored" or photo.sha256 is None or photo.ext is None:
            return None
        path = self._files.path(photo.sha256, photo.ext)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            log.warning("photo %s of post %d cannot be read: %s", path, post_id, exc)
            return None
        return AlertPicture(data, photo.sha256)
