"""Telethon message → Post, with fixtures that are real TL objects round-tripped through bytes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import telethon
from telethon.extensions import BinaryReader
from telethon.sessions import SQLiteSession
from telethon.tl import types

from bot.services.ports import MediaRefused
from bot.telegram.clients import session_has_key
from bot.telegram.convert import message_to_post, permalink
from bot.telegram.media import read_media

WHEN = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)


def round_trip(obj: Any) -> Any:
    """Serialise and parse back: an invalid fixture fails here instead of passing silently."""
    return BinaryReader(bytes(obj)).tgread_object()


def channel_message(**fields: Any) -> Any:
    base: dict[str, Any] = dict(id=42, peer_id=types.PeerChannel(1234567), date=WHEN,
                                message="Текст", post=True, views=1500, forwards=12)
    base.update(fields)
    return round_trip(types.Message(**base))


def test_plain_post() -> None:
    post = message_to_post(channel_message(), "news_test")
    assert post.channel_id == 1234567 and post.message_id == 42
    assert post.date == WHEN and post.date.tzinfo is not None
    assert (post.text, post.views, post.forwards) == ("Текст", 1500, 12)
    assert post.permalink == "https://t.me/news_test/42"
    assert (post.fwd_from, post.reply_to, post.grouped_id, post.media) == (None, None, None, None)


def test_forward_reply_album_and_photo() -> None:
    photo = types.Photo(id=1, access_hash=2, file_reference=b"x", date=WHEN, sizes=[], dc_id=2)
    msg = channel_message(
        fwd_from=types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(999),
                                        channel_post=77),
        reply_to=types.MessageReplyHeader(reply_to_msg_id=40),
        grouped_id=555,
        media=types.MessageMediaPhoto(photo=photo),
        message="",
    )
    post = message_to_post(msg, None)
    assert post.fwd_from == "channel:999/77"
    assert post.reply_to == 40
    assert post.grouped_id == 555
    assert post.media == "photo"
    assert post.text == ""
    assert post.permalink == "https://t.me/c/1234567/42"


def test_forward_from_hidden_user_and_edit_date() -> None:
    msg = channel_message(fwd_from=types.MessageFwdHeader(date=WHEN, from_name="Иван"),
                          edit_date=WHEN + dt.timedelta(minutes=3))
    post = message_to_post(msg, "x_chan")
    assert post.fwd_from == "name:Иван"
    assert post.edit_date == WHEN + dt.timedelta(minutes=3)


def test_permalinks() -> None:
    assert permalink(5, "Rybar", 9) == "https://t.me/Rybar/9"
    assert permalink(5, None, 9) == "https://t.me/c/5/9"


# Tripwires: chanwatch relies on these Telethon details; an upgrade that changes them must fail
# here first, not in production.
def test_telethon_is_the_pinned_version() -> None:
    assert telethon.__version__ == "1.45.0"


def test_session_key_detection_without_network(tmp_path: Any) -> None:
    path = tmp_path / "user.session"
    assert not session_has_key(path)
    session = SQLiteSession(str(path))
    session.save()
    session.close()
    assert not session_has_key(path)  # a session file without a key is not a login
    session = SQLiteSession(str(path))
    session.set_dc(2, "127.0.0.1", 443)
    session.auth_key = telethon.crypto.AuthKey(b"\x01" * 256)
    session.save()
    session.close()
    assert session_has_key(path)


def _photo(sizes: list[Any]) -> Any:
    return types.Photo(id=77, access_hash=5, file_reference=b"ref-1", date=WHEN, sizes=sizes,
                       dc_id=2)


def test_media_file_of_a_photo_takes_the_size_telethon_downloads() -> None:
    sizes = [types.PhotoStrippedSize(type="i", bytes=b"\x01\x02"),
             types.PhotoSize(type="m", w=320, h=240, size=20_000),
             types.PhotoSizeProgressive(type="y", w=1280, h=960, sizes=[9_000, 60_000, 140_000]),
             types.PhotoSize(type="x", w=800, h=600, size=90_000)]
    msg = channel_message(media=types.MessageMediaPhoto(photo=_photo(sizes)))
    f = message_to_post(msg, "news_test").media_file
    assert f is not None
    assert (f.file_id, f.kind, f.mime, f.size, f.width, f.height) == (
        77, "photo", "image/jpeg", 140_000, 1280, 960)
    # the reference kept is the message's media as Telegram serialises it, and reads back
    again = read_media(f.ref)
    assert isinstance(again, types.MessageMediaPhoto) and again.photo.file_reference == b"ref-1"
    assert bytes(again) == bytes(msg.media)


def test_media_file_of_documents_and_of_what_is_not_downloaded() -> None:
    video = types.Document(
        id=88, access_hash=6, file_reference=b"r", date=WHEN, mime_type="video/mp4",
        size=3_000_000, dc_id=2,
        attributes=[types.DocumentAttributeVideo(duration=12.5, w=1280, h=720),
                    types.DocumentAttributeFilename(file_name="clip.mp4")])
    f = message_to_post(channel_message(media=types.MessageMediaDocument(document=video)),
                        None).media_file
    assert f is not None
    assert (f.kind, f.mime, f.size, f.width, f.height, f.duration, f.file_name) == (
        "video", "video/mp4", 3_000_000, 1280, 720, 12.5, "clip.mp4")
    voice = types.Document(
        id=89, access_hash=6, file_reference=b"r", date=WHEN, mime_type="audio/ogg", size=9_000,
        dc_id=2, attributes=[types.DocumentAttributeAudio(duration=7, voice=True)])
    f = message_to_post(channel_message(media=types.MessageMediaDocument(document=voice)),
                        None).media_file
    assert f is not None and (f.kind, f.duration, f.width) == ("voice", 7.0, None)
    # a photo without downloadable sizes, a link preview, a poll: nothing to download
    stripped_only = _photo([types.PhotoStrippedSize(type="i", bytes=b"\x01")])
    for media in (types.MessageMediaPhoto(photo=stripped_only),
                  types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1)),
                  types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1)),
                  types.MessageMediaGeo(geo=types.GeoPoint(long=1.0, lat=2.0, access_hash=3))):
        assert message_to_post(channel_message(media=media), None).media_file is None


def test_read_media_refuses_what_is_not_a_photo_or_document() -> None:
    with pytest.raises(MediaRefused, match="not a photo or document: MessageMediaGeo"):
        read_media(bytes(types.MessageMediaGeo(geo=types.GeoPoint(long=1.0, lat=2.0,
                                                                 access_hash=3))))
