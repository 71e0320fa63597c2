"""The fake Telegram serves real bytes through upload.getFile, to real Telethon clients.

Photos and documents posted with their bytes are downloaded part by part as Telegram serves
them (offset and limit checked as Telegram checks them), file references expire on request
and a message read again carries the fresh one, and injected flood waits reach the client.
"""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageDraw
from telethon import errors
from telethon.tl import functions, types

from bot.sandbox import Account, FakeChannel, World
from bot.sandbox.entities import access_hash
from tests.sandbox.clients import ClientFactory, named, start_bot


def drawn_jpeg(width: int = 640, height: int = 480, text: str = "Белгород") -> bytes:
    image = Image.new("RGB", (width, height), (200, 220, 240))
    ImageDraw.Draw(image).rectangle((20, 20, width // 2, height // 2), fill=(180, 30, 30))
    ImageDraw.Draw(image).text((40, height - 60), text, fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


async def test_a_posted_photo_downloads_byte_for_byte_with_a_thumbnail(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    data = drawn_jpeg()
    posted = world.post(news, "фото с места", media="photo", media_data=data)
    client = await client_for(reader)
    msg = await client.get_messages(news.entity, ids=posted.id)
    assert isinstance(msg.media, types.MessageMediaPhoto)
    assert [(s.type, s.w, s.h) for s in msg.photo.sizes][-1] == ("x", 640, 480)
    assert await client.download_media(msg, file=bytes) == data
    thumb = await client.download_media(msg, file=bytes, thumb=0)
    assert thumb != data and Image.open(io.BytesIO(thumb)).size == (90, 68)
    assert world.files[msg.photo.id].requests >= 2


async def test_a_large_document_comes_in_many_parts(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    data = os.urandom(3 * 1024 * 1024 + 12345)
    posted = world.post(news, "видео", media="document", media_data=data,
                        mime_type="video/mp4", file_name="clip.mp4")
    client = await client_for(reader)
    msg = await client.get_messages(news.entity, ids=posted.id)
    assert msg.document.size == len(data) and msg.file.name == "clip.mp4"
    assert await client.download_media(msg, file=bytes) == data
    assert world.files[msg.document.id].requests > 3  # Telethon asks 128-512 KB at a time


async def test_an_expired_reference_fails_until_the_message_is_read_again(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    data = drawn_jpeg(200, 100)
    posted = world.post(news, "удалят", media="photo", media_data=data)
    client = await client_for(reader)
    old = await client.get_messages(news.entity, ids=posted.id)
    fresh_reference = world.expire_file_reference(old.photo.id)
    with pytest.raises(errors.FileReferenceExpiredError):
        await client.download_media(old, file=bytes)
    again = await client.get_messages(news.entity, ids=posted.id)
    assert again.photo.file_reference == fresh_reference != old.photo.file_reference
    assert await client.download_media(again, file=bytes) == data


async def test_getfile_checks_offset_limit_location_as_telegram_does(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    posted = world.post(news, "фото", media="photo", media_data=drawn_jpeg())
    placeholder = world.post(news, "без байтов", media="photo")
    client = await client_for(reader, flood_sleep_threshold=0)
    photo = (await client.get_messages(news.entity, ids=posted.id)).photo

    def location(**changes: object) -> types.InputPhotoFileLocation:
        fields: dict[str, object] = {"id": photo.id, "access_hash": photo.access_hash,
                                     "file_reference": photo.file_reference, "thumb_size": "x"}
        fields.update(changes)
        return types.InputPhotoFileLocation(**fields)  # type: ignore[arg-type]

    async def get(loc: object, offset: int = 0, limit: int = 4096) -> bytes:
        answer = await client(functions.upload.GetFileRequest(loc, offset, limit))
        return bytes(answer.bytes)

    assert len(await get(location())) == 4096
    cases = [
        (location(), 0, 1000, errors.LimitInvalidError),  # not a multiple of 4 KB
        (location(), 0, 3 * 4096, errors.LimitInvalidError),  # does not divide 1 MB
        (location(), 0, 2 << 20, errors.LimitInvalidError),  # over 1 MB
        (location(), 100, 4096, errors.OffsetInvalidError),
        (location(), (1 << 20) - 4096, 8192, errors.OffsetInvalidError),  # crosses 1 MB
        (location(access_hash=access_hash(photo.id) + 1), 0, 4096,
         errors.LocationInvalidError),
        (location(thumb_size="w"), 0, 4096, errors.LocationInvalidError),
        (location(id=placeholder.media.photo.id), 0, 4096, errors.LocationInvalidError),
        (location(file_reference=b"forged"), 0, 4096, errors.FileReferenceInvalidError),
    ]
    for loc, offset, limit, error in cases:
        with pytest.raises(errors.RPCError) as raised:
            await get(loc, offset, limit)
        assert type(raised.value) is error, (offset, limit, error)
    tail = await client(functions.upload.GetFileRequest(location(), 1 << 20, 4096))
    assert bytes(tail.bytes) == b""  # past the end: empty, as Telegram answers
    world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_7")
    with pytest.raises(errors.FloodWaitError) as flood:
        await get(location())
    assert flood.value.seconds == 7


async def test_a_photo_the_bot_uploaded_can_be_downloaded_again(
        world: World, bot_account: Account, client_for: ClientFactory) -> None:
    world.add_user(321, "Аналитик")
    bot = await start_bot(client_for, bot_account, flood_sleep_threshold=0)
    data = drawn_jpeg(300, 200)
    sent = await bot.send_file(321, named(data, "evidence.jpg"), caption="улика")
    assert world.sent[-1].photo == data
    assert await bot.download_media(sent, file=bytes) == data
