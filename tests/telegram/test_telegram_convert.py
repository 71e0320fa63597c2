"""Telethon message → Post, with fixtures that are real TL objects round-tripped through bytes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import telethon
from telethon.extensions import BinaryReader
from telethon.sessions import SQLiteSession
from telethon.tl import types

from bot.telegram.clients import session_has_key
from bot.telegram.convert import message_to_post, permalink

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
