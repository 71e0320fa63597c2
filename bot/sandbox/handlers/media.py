"""Uploads and media sends: upload.saveFilePart/saveBigFilePart and messages.sendMedia."""

from __future__ import annotations

import hashlib
from typing import Any

from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account, RpcFailure, make_updates, now
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.handlers.sending import (
    claim_random_id,
    outgoing,
    own_box,
    post_to_channel,
    sent_message,
)
from bot.sandbox.world import World

_CAPTION_LENGTH_MAX = 1024
_FILE_PARTS_MAX = 4000  # Telegram's limit on parts per uploaded file
_PART_SIZE_MAX = 512 * 1024
# Signatures of the image formats Telegram accepts as photos (it re-encodes them to JPEG).
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


@serves(fn.upload.SaveFilePartRequest, fn.upload.SaveBigFilePartRequest)
def _save_file_part(world: World, acc: Account, req: Any) -> Result:
    total = getattr(req, "file_total_parts", None)  # only in SaveBigFilePart
    if total is not None and not 0 < total <= _FILE_PARTS_MAX:
        raise RpcFailure(400, "FILE_PARTS_INVALID")
    if not 0 <= req.file_part < (total or _FILE_PARTS_MAX):
        raise RpcFailure(400, "FILE_PART_INVALID")
    if not req.bytes:
        raise RpcFailure(400, "FILE_PART_EMPTY")
    if len(req.bytes) > _PART_SIZE_MAX:
        raise RpcFailure(400, "FILE_PART_TOO_BIG")
    world.uploads.setdefault((acc.user.id, req.file_id), {})[req.file_part] = req.bytes
    return True


def _uploaded(world: World, acc: Account, file: Any) -> bytes:
    """Reassemble an InputFile/InputFileBig from the parts the account uploaded."""
    if not isinstance(file, tl.InputFile | tl.InputFileBig):
        raise RpcFailure(400, "FAKE_UNSCRIPTED_INPUT_FILE")
    if not 0 < file.parts <= _FILE_PARTS_MAX:
        raise RpcFailure(400, "FILE_PARTS_INVALID")
    parts = world.uploads.get((acc.user.id, file.id), {})
    missing = next((i for i in range(file.parts) if i not in parts), None)
    if missing is not None:
        raise RpcFailure(400, f"FILE_PART_{missing}_MISSING")
    data = b"".join(parts[i] for i in range(file.parts))
    if (isinstance(file, tl.InputFile) and file.md5_checksum
            and hashlib.md5(data, usedforsecurity=False).hexdigest() != file.md5_checksum):
        raise RpcFailure(400, "MD5_CHECKSUM_INVALID")
    return data


def _sent_media(world: World, acc: Account, req: Any) -> tuple[TLObject, dict[str, Any]]:
    """The MessageMedia for an uploaded photo/document and what SentMessage records of it."""
    media = req.media
    world.media_seq += 1
    media_id = acc.user.id * 1_000_000 + world.media_seq
    if isinstance(media, tl.InputMediaUploadedPhoto):
        data = _uploaded(world, acc, media.file)
        if not data.startswith(_IMAGE_MAGIC) and data[8:12] != b"WEBP":
            raise RpcFailure(400, "IMAGE_PROCESS_FAILED")
        photo = world.store_photo(data, file_id=media_id)
        return tl.MessageMediaPhoto(photo=photo), {"photo": data}
    if isinstance(media, tl.InputMediaPhoto) and isinstance(media.id, tl.InputPhoto):
        world.media_seq -= 1  # nothing new is stored
        try:
            photo, data = world.sent_photo(media.id)
        except ValueError as exc:
            raise RpcFailure(400, str(exc)) from None
        return tl.MessageMediaPhoto(photo=photo), {"photo": data, "by_reference": True}
    if isinstance(media, tl.InputMediaUploadedDocument):
        data = _uploaded(world, acc, media.file)
        name = next((a.file_name for a in media.attributes
                     if isinstance(a, tl.DocumentAttributeFilename)), None)
        document = world.store_document(data, media.mime_type, list(media.attributes),
                                        file_id=media_id)
        return tl.MessageMediaDocument(document=document), {
            "document": data, "file_name": name, "mime_type": media.mime_type}
    world.unscripted.append(req)
    raise RpcFailure(400, f"FAKE_UNSCRIPTED_MEDIA_{type(media).__name__.upper()}")


@serves(fn.upload.GetFileRequest)
def _get_file(world: World, acc: Account, req: Any) -> Result:
    try:
        data = world.file_part(req.location, req.offset, req.limit, bool(req.precise))
    except ValueError as exc:
        raise RpcFailure(400, str(exc)) from None
    photo = isinstance(req.location, tl.InputPhotoFileLocation)
    kind = tl.storage.FileJpeg() if photo else tl.storage.FilePartial()
    return tl.upload.File(type=kind, mtime=int(now().timestamp()), bytes=data)


@serves(fn.messages.SendMediaRequest)
def _send_media(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    world.check_can_send(acc, peer)
    if len(req.message) > _CAPTION_LENGTH_MAX:
        raise RpcFailure(400, "MEDIA_CAPTION_TOO_LONG")
    media, recorded = _sent_media(world, acc, req)
    claim_random_id(world, acc, req.random_id)
    msg = outgoing(acc, peer, req)
    msg.media = media
    result: Result
    if isinstance(peer, tl.PeerChannel):
        result = post_to_channel(world, acc, world.channels[peer.channel_id], msg,
                                 req.random_id)
    else:
        update = own_box(world, acc, msg)
        users, chats = world.entities([msg])
        result = make_updates([tl.UpdateMessageID(id=msg.id, random_id=req.random_id), update],
                              [world.self_view(acc), *users], chats)
    sent = sent_message(acc, peer, req, req.message, msg.id)
    for name, value in recorded.items():
        setattr(sent, name, value)
    world.sent.append(sent)
    return result
