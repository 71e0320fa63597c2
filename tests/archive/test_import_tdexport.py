"""Telegram Desktop exports → posts: every variant of the format, real and hand-written files."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.archive.jsonstream import JsonStream, JsonSyntaxError
from bot.archive.tdexport import (
    ImportedPost,
    ImportFormatError,
    TdExport,
    channel_id_of,
    media_kind,
    message_text,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "telegram_desktop"
UTC = ZoneInfo("UTC")


def read(name_or_text: str, tz: ZoneInfo = UTC, username: str | None = None,
         ) -> tuple[list[ImportedPost], TdExport]:
    path = DATA / name_or_text
    text = path.read_text(encoding="utf-8") if path.suffix == ".json" else name_or_text
    export = TdExport(io.StringIO(text), tz, username)
    return list(export.posts()), export


def by_id(posts: list[ImportedPost]) -> dict[int, ImportedPost]:
    return {p.post.message_id: p for p in posts}


def test_every_variant_of_the_hand_written_channel_export() -> None:
    posts, export = read("channel_full.json")
    got = by_id(posts)
    assert sorted(got) == [2, 3, 4, 5, 6, 7, *range(9, 22)]
    # two service messages and an "unsupported" one; message 23 has neither text nor media
    assert (export.skipped.service, export.skipped.empty) == (3, 1)
    assert export.channels == [(1650038103, "Вести Белгорода")]
    assert {p.post.channel_id for p in posts} == {1650038103}
    # text as a list of strings and entities: joined, as Telegram's API gives the text
    assert got[3].post.text == "Срочно: обстрел Шебекино, подробности на сайте #новости"
    # date_unixtime wins; edited_unixtime is the edit date
    assert got[3].post.date == dt.datetime(2024, 3, 1, 12, 10, tzinfo=dt.UTC)
    assert got[3].post.edit_date == dt.datetime(2024, 3, 1, 12, 20, tzinfo=dt.UTC)
    assert got[2].post.edit_date is None
    assert got[3].reactions == 7 and got[2].reactions is None
    # only text_entities (no "text" key)
    assert got[21].post.text == "Дополнение: ПВО работала над городом @vesti_belgorod"
    assert got[21].post.reply_to == 2
    assert got[9].post.fwd_from == "name:Курские известия"
    assert got[10].post.fwd_from == "channel:1122334455"
    assert got[11].post.fwd_from == "hidden"
    assert got[2].post.fwd_from is None
    assert {i: p.post.media for i, p in got.items() if p.post.media} == {
        4: "photo", 5: "photo", 6: "video", 7: "photo", 12: "voice", 13: "audio",
        14: "sticker", 15: "video", 16: "video", 17: "document", 18: "poll", 19: "geo",
        20: "contact"}
    # 4, 5, 6: one album (same second, consecutive ids); 7 is five seconds later
    assert {i: p.post.grouped_id for i, p in got.items() if p.post.grouped_id} == {
        4: 4, 5: 4, 6: 4}
    assert got[2].post.permalink == "https://t.me/c/1650038103/2"
    assert got[2].channel_title == "Вести Белгорода"


def test_username_makes_public_links() -> None:
    posts, _ = read("channel_full.json", username="@vesti_belgorod")
    assert posts[0].post.permalink == "https://t.me/vesti_belgorod/2"
    assert posts[0].post.channel_username == "vesti_belgorod"


def test_pre_2021_export_internal_peer_id_and_local_dates() -> None:
    posts, export = read("legacy_2020.json", tz=ZoneInfo("Europe/Moscow"))
    # the internal peer id (channel id + 2^33) becomes the channel id Telegram uses
    assert export.channels == [(1234567890, "Старый канал")]
    got = by_id(posts)
    assert sorted(got) == [101, 102, 103]
    # no date_unixtime: "date" is the exporter's local time, read in the zone given
    assert got[101].post.date == dt.datetime(2020, 6, 1, 6, 30, tzinfo=dt.UTC)
    assert got[101].post.edit_date == dt.datetime(2020, 6, 1, 7, 0, tzinfo=dt.UTC)
    assert got[102].post.text == "Сводка: https://example.org/svodka"
    assert got[103].post.media == "photo" and got[103].post.text == ""


def test_real_export_without_top_level_id_takes_the_channel_from_from_id() -> None:
    # DevTwitter's published export (MIT; tests/data/telegram_desktop/SOURCES.md) has no id
    posts, export = read("devtwitter_2021_cut.json")
    raw = json.loads((DATA / "devtwitter_2021_cut.json").read_text(encoding="utf-8"))
    assert export.channels == [(1377200663, raw["name"])]
    assert len(posts) == len(raw["messages"]) - export.skipped.empty
    got = by_id(posts)
    # 716 has the caption, 717-719 the same second without text: one album
    assert [got[i].post.grouped_id for i in (716, 717, 718, 719)] == [716] * 4
    assert got[716].post.text.startswith(raw["messages"][16]["text"][0]
                                         if isinstance(raw["messages"][16]["text"], list)
                                         else raw["messages"][16]["text"])
    expected = {m["id"]: message_text(m["text"]) for m in raw["messages"]}
    assert {i: p.post.text for i, p in got.items()} == {i: t for i, t in expected.items()
                                                        if i in got}
    assert all(p.post.date.tzinfo is dt.UTC for p in posts)


def test_supergroup_is_imported_personal_chat_refused() -> None:
    posts, export = read("supergroup.json")
    assert [p.post.message_id for p in posts] == [2, 3]
    assert export.channels == [(1987654321, "Белгород чат")]
    with pytest.raises(ImportFormatError, match="personal_chat, not a channel"):
        read("personal_chat.json")


def test_full_account_export_imports_its_channels_only() -> None:
    channel = json.loads((DATA / "supergroup.json").read_text(encoding="utf-8"))
    person = json.loads((DATA / "personal_chat.json").read_text(encoding="utf-8"))
    account = {"about": "Here is the data you requested.",
               "personal_information": {"user_id": 5, "first_name": "A"},
               "chats": {"about": "This page lists all chats.", "list": [person, channel]},
               "left_chats": {"about": "left", "list": []}}
    posts, export = read(json.dumps(account, ensure_ascii=False, indent=1))
    assert [(p.post.channel_id, p.post.message_id) for p in posts] == [(1987654321, 2),
                                                                      (1987654321, 3)]
    assert export.skipped.other_chats == 1 and export.skipped.service == 1


@pytest.mark.parametrize(("raw", "kind", "expected"), [
    (1650038103, "public_channel", 1650038103),
    ("1650038103", "private_channel", 1650038103),
    (0x200000000 + 1494031694, "public_channel", 1494031694),
    (0x200000000 + 5, "personal_chat", 0x200000000 + 5),  # only channels were shifted
])
def test_channel_id_of(raw: object, kind: str, expected: int) -> None:
    assert channel_id_of(raw, kind) == expected


@pytest.mark.parametrize("raw", [None, -5, 0, "abc", True, 1.5])
def test_channel_id_of_refuses(raw: object) -> None:
    with pytest.raises(ValueError, match="not a channel id"):
        channel_id_of(raw, "public_channel")


@pytest.mark.parametrize(("msg", "kind"), [
    ({"photo": "x.jpg"}, "photo"),
    ({"file": "x", "media_type": "video_file", "mime_type": "video/mp4"}, "video"),
    ({"file": "x", "media_type": "voice_message"}, "voice"),
    ({"file": "x", "media_type": "audio_file"}, "audio"),
    ({"file": "x", "media_type": "sticker"}, "sticker"),
    ({"file": "x", "media_type": "animation"}, "video"),
    ({"file": "x", "media_type": "video_message"}, "video"),
    ({"file": "x", "mime_type": "application/zip"}, "document"),
    ({"file": "x", "mime_type": "video/webm"}, "video"),
    ({"file": "x", "mime_type": "audio/flac"}, "audio"),
    ({"poll": {"question": "?"}}, "poll"),
    ({"location_information": {"latitude": 1, "longitude": 2}}, "geo"),
    ({"place_name": "Кафе", "address": "ул."}, "geo"),
    ({"contact_information": {"first_name": "A"}}, "contact"),
    ({"game_title": "g"}, "other"),
    ({}, None),
])
def test_media_kind(msg: dict[str, Any], kind: str | None) -> None:
    assert media_kind(msg) == kind


def _messages_file(messages: list[str]) -> str:
    head = '{\n "name": "Канал",\n "type": "public_channel",\n "id": 77,\n "messages": [\n'
    return head + ",\n".join(messages) + "\n ]\n}\n"


def _message(n: int) -> str:
    return (f'  {{\n   "id": {n},\n   "type": "message",\n   "date_unixtime": "{1709294400 + n}",'
            f'\n   "text": "пост {n}"\n  }}')


def test_syntax_error_names_line_column_and_message() -> None:
    messages = [_message(n) for n in range(1, 6)]
    messages[3] = messages[3].replace('"type": "message",', '"type": "message"')  # no comma
    text = _messages_file(messages)
    line = text.splitlines().index('   "type": "message"') + 2  # the next key's line
    with pytest.raises(ImportFormatError) as caught:
        read(text)
    assert str(caught.value) == (f"line {line} column 4: Expecting ',' delimiter (message 4)")


@pytest.mark.parametrize(("broken", "problem"), [
    ('"id": "x"', "message id 'x': the id is not a positive number"),
    ('"date_unixtime": "soon"', "message id 2: no date"),
])
def test_a_message_that_is_no_post_names_its_position(broken: str, problem: str) -> None:
    messages = [_message(1), _message(2), _message(3)]
    key = broken.split(":")[0]
    lines = messages[1].split("\n")
    messages[1] = "\n".join(f"   {broken}," if line.strip().startswith(key) else line
                            for line in lines)
    text = _messages_file(messages)
    with pytest.raises(ImportFormatError) as caught:
        read(text)
    # the position is the message's first character (5 lines of head, 6 of message 1)
    assert str(caught.value) == f"line 12 column 3: {problem} (message 2)"


def test_truncated_file() -> None:
    text = _messages_file([_message(1), _message(2)])[:-12]
    with pytest.raises(ImportFormatError, match=r"^line 16 column .*\(message 2\)$"):
        read(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(json_values, max_size=8), st.integers(1, 40), st.sampled_from([None, 1, 2]))
def test_stream_reads_what_json_reads_whatever_the_chunks(
        values: list[Any], chunk: int, indent: int | None) -> None:
    """Element by element, over chunks of any size, the stream decodes what json.loads does."""
    text = json.dumps({"messages": values}, ensure_ascii=False, indent=indent)
    stream = JsonStream(io.StringIO(text), chunk=chunk)
    stream.expect("{")
    out = []
    for key in stream.keys():
        assert key == "messages"
        stream.expect("[")
        out += [stream.value() for _ in stream.items()]
    stream.end()
    assert out == json.loads(text)["messages"]


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_stream_error_position_is_the_same_whatever_the_chunks(chunk: int) -> None:
    text = '{\n "a": [\n  1,\n  2\n  3\n ]\n}'
    stream = JsonStream(io.StringIO(text), chunk=chunk)
    stream.expect("{")
    with pytest.raises(JsonSyntaxError) as caught:
        for _ in stream.keys():
            stream.expect("[")
            for _ in stream.items():
                stream.value()
    assert (caught.value.line, caught.value.column) == (5, 3)
