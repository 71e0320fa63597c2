from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telethon.extensions import html as tl_html
from telethon.tl.types import (
    MessageEntityBlockquote,
    MessageEntityBold,
    MessageEntityTextUrl,
)
from telethon.utils import split_text

from bot.telegram.split import split_html, split_message


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def covered(text: str, offset: int, length: int) -> str:
    """The text an entity covers: offsets are UTF-16 units, so slice the UTF-16 bytes."""
    return text.encode("utf-16-le")[2 * offset:2 * (offset + length)].decode("utf-16-le")


def locate(text: str, parts: list[tuple[str, list[Any]]]) -> list[int]:
    """Start of each part in ``text`` (code points); only whitespace may lie between parts."""
    starts, pos = [], 0
    for part, _ in parts:
        found = text.find(part, pos)
        assert found >= 0, f"part not found in order: {part[:40]!r}"
        assert text[pos:found].strip() == "", "non-whitespace content was dropped"
        starts.append(found)
        pos = found + len(part)
    assert text[pos:].strip() == ""
    return starts


def check_parts(parts: list[tuple[str, list[Any]]], limit: int) -> None:
    assert parts
    for part, entities in parts:
        raw = part.encode("utf-16-le")  # raises on a lone surrogate (a split pair)
        assert len(raw) // 2 <= limit
        assert part.strip(), "empty or whitespace-only part"
        for ent in entities:
            assert ent.offset >= 0 and ent.length > 0
            assert ent.offset + ent.length <= len(raw) // 2
            covered(part, ent.offset, ent.length)  # entity edges fall between characters


def test_short_message_is_returned_unchanged() -> None:
    text, entities = tl_html.parse('🔔 <b>Белгород</b> <a href="https://t.me/x/1">link</a>')
    assert split_message(text, entities) == [(text, entities)]
    assert split_message(text, entities)[0][1] is entities
    assert split_html("<b>hi</b>") == [("hi", [MessageEntityBold(offset=0, length=2)])]


def test_length_is_counted_in_utf16_units() -> None:
    text = "🔔" * 3000  # 3000 code points, 6000 UTF-16 units
    parts = split_message(text, [])
    check_parts(parts, 4096)
    assert [len(p) for p, _ in parts] == [2048, 952]
    assert "".join(p for p, _ in parts) == text


def test_long_message_is_split_between_lines() -> None:
    lines = [f"• <b>Канал {i}</b> @chan_{i} — {i * 7} posts" for i in range(400)]
    html = "\n".join(lines)
    text, entities = tl_html.parse(html)
    parts = split_html(html)
    assert len(parts) > 1
    check_parts(parts, 4096)
    # Each cut dropped exactly the newline it was made at.
    assert "\n".join(p for p, _ in parts) == text
    for part, ents in parts:
        assert [covered(part, e.offset, e.length) for e in ents] == re.findall(
            r"Канал \d+", part)
    assert sum(len(ents) for _, ents in parts) == len(entities) == 400


@pytest.mark.parametrize("head", [
    "\n".join(f"line {i:02d} of filler" for i in range(5)),  # cut at the last safe newline
    " ".join(f"word{i:02d}" for i in range(15)),  # one line: cut at the last safe space
], ids=["lines", "one-line"])
@pytest.mark.parametrize(("tag", "attrs"), [
    ("b", ""), ("a", ' href="https://example.com/q?a=1&amp;b=2"')], ids=["bold", "link"])
def test_entity_straddling_the_natural_cut_moves_the_cut_before_it(
        head: str, tag: str, attrs: str) -> None:
    html = f"{head}\nsee <{tag}{attrs}>bold text\nmore bold text here</{tag}> after\ntail"
    text, entities = tl_html.parse(html)
    (ent,) = entities
    # The last newline within 120 units is inside the entity, which ends past 120.
    assert ent.offset < text.rindex("\n", 0, 120) and ent.offset + ent.length > 120
    telethon_cut = [(p, e) for p, e in split_text(text, entities, limit=120)]
    assert len(telethon_cut[0][1]) == 1  # Telethon's own splitter cuts the entity there
    parts = split_html(html, limit=120)
    check_parts(parts, 120)
    assert [p for p, _ in parts] == [head, "see bold text\nmore bold text here after\ntail"] \
        if "\n" in head else [f"{head}\nsee", "bold text\nmore bold text here after\ntail"]
    assert parts[0][1] == []
    second, (piece,) = parts[1]
    assert type(piece) is type(ent) and piece.length == ent.length
    assert covered(second, piece.offset, piece.length) == "bold text\nmore bold text here"
    if tag == "a":
        assert piece.url == "https://example.com/q?a=1&b=2"


def test_entity_longer_than_limit_is_split_into_entities_of_the_same_type() -> None:
    words = " ".join(f"слово{i}" for i in range(1000))  # ~8000 units
    html = f'Intro line\n<a href="https://t.me/kanal/12">{words}</a>\nOutro'
    text, (link,) = tl_html.parse(html)
    parts = split_html(html)
    check_parts(parts, 4096)
    starts = locate(text, parts)
    pieces = [(start, ent) for start, (_, ents) in zip(starts, parts, strict=True)
              for ent in ents]
    assert len(pieces) >= 2
    assert all(type(ent) is MessageEntityTextUrl for _, ent in pieces)
    assert all(ent.url == "https://t.me/kanal/12" for _, ent in pieces)
    joined = "".join(covered(parts[i][0], ent.offset, ent.length)
                     for i, (_, ents) in enumerate(parts) for ent in ents)
    assert joined == words
    # The forced cuts inside the link were made after a space, keeping the space in it.
    for part, ents in parts:
        if ents and ents[0].offset + ents[0].length == u16(part) and part != parts[-1][0]:
            assert part.endswith(" ")
    # The original entity object was not modified.
    assert (link.offset, link.length) == (11, len(words))


def test_forced_cut_inside_a_long_entity_avoids_the_short_ones_nested_in_it() -> None:
    body = "\n".join(f"item {i} <b>bold {i}</b> end" for i in range(40))
    html = f"<blockquote>{body}</blockquote>"
    _, entities = tl_html.parse(html)
    parts = split_html(html, limit=200)
    check_parts(parts, 200)
    for part, ents in parts:
        quote = [e for e in ents if isinstance(e, MessageEntityBlockquote)]
        assert len(quote) == 1 and quote[0].offset == 0 and quote[0].length == u16(part)
        bolds = [covered(part, e.offset, e.length) for e in ents
                 if isinstance(e, MessageEntityBold)]
        assert bolds == re.findall(r"bold \d+", part)  # every bold whole, none cut
    assert sum(len(ents) for _, ents in parts) == len(entities) + len(parts) - 1


def test_astral_emoji_are_never_split() -> None:
    for text in ("a" + "🔔" * 3000, "x" + "𝐀🔔" * 1500 + " tail " + "🔔" * 10):
        for limit in (4096, 4095, 7, 2):
            parts = split_message(text, [], limit)
            check_parts(parts, limit)
            assert "".join(p for p, _ in parts).replace(" ", "") == text.replace(" ", "")


def test_astral_emoji_inside_a_long_entity() -> None:
    text = "🔔" * 50
    parts = split_message(text, [MessageEntityBold(offset=0, length=100)], limit=9)
    check_parts(parts, 9)
    assert [p for p, _ in parts] == ["🔔" * 4] * 12 + ["🔔" * 2]
    assert all(ents == [MessageEntityBold(offset=0, length=u16(p))] for p, ents in parts)


def test_whitespace_only_stretches_never_become_parts() -> None:
    text = "start" + " " * 50 + "\n" * 30 + "end"
    bold = MessageEntityBold(offset=3, length=40)  # covers "rt" and 38 spaces
    parts = split_message(text, [bold], limit=10)
    check_parts(parts, 10)
    # The bold is longer than the limit, so it is cut at the last space that fits (kept,
    # being inside it); the rest of the whitespace could never make a message and is dropped.
    assert [p for p, _ in parts] == ["start     ", "end"]
    assert parts[0][1] == [MessageEntityBold(offset=3, length=7)]


ATOMS = st.sampled_from([
    "word", "a", "Белгород", "Київ", "ї", "🔔", "𝐀", "👍🏽", "x🔔y", "https://t.me/k/1",
    "б" * 15, "q" * 30,
])
SEPARATORS = st.sampled_from([" ", "\n", "\n\n", " \n"])


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[Any], int]:
    atoms = draw(st.lists(ATOMS, min_size=1, max_size=120))
    seps = draw(st.lists(SEPARATORS, min_size=len(atoms) - 1, max_size=len(atoms) - 1))
    text = atoms[0] + "".join(s + a for s, a in zip(seps, atoms[1:], strict=True))
    entities: list[Any] = []
    for k in range(draw(st.integers(0, 8))):
        a = draw(st.integers(0, len(text) - 1))
        b = draw(st.integers(a + 1, min(len(text), a + draw(st.sampled_from([5, 40, 400])))))
        offset, length = u16(text[:a]), u16(text[a:b])
        if draw(st.booleans()):
            entities.append(MessageEntityBold(offset=offset, length=length))
        else:
            entities.append(MessageEntityTextUrl(offset=offset, length=length,
                                                 url=f"https://example.com/{k}"))
    entities.sort(key=lambda e: e.offset)
    return text, entities, draw(st.integers(8, 300))


@settings(max_examples=400, deadline=None)
@given(messages())
def test_split_properties(message: tuple[str, list[Any], int]) -> None:
    text, entities, limit = message
    originals = [(type(e), getattr(e, "url", None), e.offset, e.length) for e in entities]
    parts = split_message(text, entities, limit)
    check_parts(parts, limit)
    assert re.sub(r"\s", "", "".join(p for p, _ in parts)) == re.sub(r"\s", "", text)
    if u16(text) <= limit:
        assert parts == [(text, entities)]
    assert [(type(e), getattr(e, "url", None), e.offset, e.length)
            for e in entities] == originals  # inputs untouched

    starts = [u16(text[:s]) for s in locate(text, parts)]
    spans = [(start, start + u16(part)) for start, (part, _) in zip(starts, parts, strict=True)]
    pieces = {(type(e), getattr(e, "url", None), start + e.offset, e.length): part
              for start, (part, ents) in zip(starts, parts, strict=True) for e in ents}
    expected = 0
    for kind, url, offset, length in originals:
        joined = ""
        for (lo, hi), (part, _) in zip(spans, parts, strict=True):
            a, b = max(lo, offset), min(hi, offset + length)
            if a < b:
                assert (kind, url, a, b - a) in pieces, "entity missing from a part it spans"
                joined += covered(part, a - lo, b - a)
                expected += 1
        assert joined == covered(text, offset, length)
    assert sum(len(ents) for _, ents in parts) == expected


@settings(max_examples=300, deadline=None)
@given(messages(), st.integers(4, 120))
def test_a_caption_first_then_messages(message: tuple[str, list[Any], int],
                                       caption: int) -> None:
    """``first_limit``: the first part (a photo's caption) has its own, smaller limit."""
    text, entities, limit = message
    parts = split_message(text, entities, limit, first_limit=caption)
    assert re.sub(r"\s", "", "".join(p for p, _ in parts)) == re.sub(r"\s", "", text)
    check_parts(parts[:1], caption)
    if parts[1:]:
        check_parts(parts[1:], limit)
    if u16(text) <= caption:
        assert parts == [(text, entities)]
    else:
        assert len(parts) >= 2
    locate(text, parts)  # in order, only whitespace dropped


def test_a_caption_cut_falls_between_lines() -> None:
    html = "🔔 <b>Канал</b>\n" + "\n".join(f"строка {i} про <b>дрон</b>" for i in range(80))
    parts = split_html(html, first_limit=1024)
    # cut after the last newline that fits: the next line and its newline would not have
    first, following = u16(parts[0][0]), u16(parts[1][0].split("\n")[0])
    assert first <= 1024 < first + 1 + following + 1
    assert all(u16(p) <= 4096 for p, _ in parts[1:])
    assert parts[1][0].startswith("строка")
