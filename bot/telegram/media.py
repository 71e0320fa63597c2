"""Downloads through the user account: a post's photo or document, fetched by its reference.

The queue keeps each file as Telegram described it when the post arrived (the message's media
as TL bytes, ``MediaFile.ref``). Its *file reference* expires after a while (hours to days);
a download that is told FILE_REFERENCE_EXPIRED reads the message again for a fresh one, which
Telethon does not do on its own for photos. A message deleted meanwhile has no fresh reference:
the file is gone unless the old one still worked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from telethon import TelegramClient, errors
from telethon.extensions import BinaryReader
from telethon.tl import types

from bot.models import Channel, MediaFile
from bot.services.ports import FloodWait, MediaGone, MediaRefused, MediaTransient
from bot.telegram.convert import media_file

_STALE_REFERENCE = (errors.FileReferenceExpiredError, errors.FileReferenceInvalidError)


def read_media(ref: bytes) -> Any:
    """The MessageMedia a queue row keeps (TL bytes) as a Telethon object."""
    try:
        obj = BinaryReader(ref).tgread_object()
    except Exception as exc:  # bytes a Telethon of another layer wrote, or damaged ones
        raise MediaRefused(f"the kept media cannot be read: {type(exc).__name__}") from None
    if not isinstance(obj, types.MessageMediaPhoto | types.MessageMediaDocument):
        raise MediaRefused(f"not a photo or document: {type(obj).__name__}")
    return obj


class TelegramMedia:
    """Implements ``MediaSource`` (bot/services/ports.py) with the user client."""

    def __init__(self, client: TelegramClient) -> None:
        self.client = client

    async def download(self, channel: Channel, message_id: int, file: MediaFile,
                       dest: Path) -> MediaFile | None:
        """Write the file to ``dest``; return the re-read ``MediaFile`` if the reference was
        refreshed on the way (None: the queued one worked)."""
        try:
            await self._fetch(read_media(file.ref), dest)
            return None
        except _STALE_REFERENCE:
            pass
        fresh = await self._read_again(channel, message_id, file.file_id)
        try:
            await self._fetch(read_media(fresh.ref), dest)
        except _STALE_REFERENCE as exc:  # just read: Telegram will not serve it
            raise MediaRefused(f"a fresh file reference was refused: {exc}") from None
        return fresh

    async def download_thumb(self, channel: Channel, message_id: int, file: MediaFile,
                             dest: Path) -> bool:
        """A video's first frame, as Telegram keeps it: the document's largest thumbnail."""
        media = read_media(file.ref)
        document = getattr(media, "document", None)
        if not isinstance(document, types.Document) or not document.thumbs:
            return False
        try:
            await self._fetch(media, dest, thumb=-1)
        except _STALE_REFERENCE:
            fresh = await self._read_again(channel, message_id, file.file_id)
            try:
                await self._fetch(read_media(fresh.ref), dest, thumb=-1)
            except _STALE_REFERENCE as exc:
                raise MediaRefused(f"a fresh file reference was refused: {exc}") from None
        return True

    async def _read_again(self, channel: Channel, message_id: int, file_id: int) -> MediaFile:
        peer = types.InputPeerChannel(channel.id, channel.access_hash or 0)
        try:
            message = await self._guard(self.client.get_messages(peer, ids=message_id))
        except MediaRefused as exc:  # the channel went private, was deleted, ...
            raise MediaGone(f"the message cannot be read again: {exc}") from None
        fresh = media_file(message) if message is not None else None
        if fresh is None or fresh.file_id != file_id:
            what = "deleted" if message is None else "its media replaced"
            raise MediaGone(f"the file reference expired and the message is {what}")
        return fresh

    async def _fetch(self, media: Any, dest: Path, thumb: int | None = None) -> None:
        with dest.open("wb") as out:
            await self._guard(self.client.download_media(media, file=out, thumb=thumb))

    async def _guard(self, call: Any) -> Any:
        """Await a Telethon call, translating its failures into the port's exceptions."""
        try:
            return await call
        except errors.FloodWaitError as exc:
            raise FloodWait(exc.seconds) from None
        except _STALE_REFERENCE:
            raise
        except (errors.ServerError, errors.RpcCallFailError, errors.TimedOutError) as exc:
            raise MediaTransient(str(exc)) from None
        except errors.RPCError as exc:
            raise MediaRefused(str(exc)) from None
        except (TimeoutError, ConnectionError) as exc:
            raise MediaTransient(f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:
            # Telethon's own retries of server errors ran out (raise_last_call_error off)
            if str(exc).startswith("Request was unsuccessful"):
                raise MediaTransient(str(exc)) from None
            raise
