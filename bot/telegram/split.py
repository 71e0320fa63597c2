"""Cut a long message into parts Telegram accepts, keeping its formatting entities intact.

Units: ``telethon.extensions.html.parse`` returns the text as an ordinary ``str`` (an emoji
such as 🔔 or 𝐀 is one code point) while entity offsets and lengths count UTF-16 code units
(such a character counts 2). Telegram's 4096 limit counts UTF-16 code units too. So the work
is done on ``telethon.helpers.add_surrogate(text)``, where each index is one UTF-16 unit, and
every part is turned back with ``del_surrogate``; a cut never falls between the two halves of
a surrogate pair, so that always succeeds.

Where to cut: the last fitting point, of the best kind, that would cut no entity of at most
``limit`` units (an entity longer than the limit must be cut anyway, so it never pushes the
cut back): after a newline, else after whitespace, else anywhere. Only if no such point
exists (entities overlapping in a chain longer than the limit) is any point taken, of the
same kinds in the same order. Never between the halves of a surrogate pair.

An entity that is cut continues in the next part as a copy of the same TL object (same
type, url, language, user id...) with a new offset and length. Whitespace at a cut that
no entity covers is dropped; nothing else is, except whitespace that could never form a
message of its own (a whitespace-only rest after a cut, or a whitespace run at the start
of a part longer than the limit), since Telegram refuses empty messages.
"""

from __future__ import annotations

import copy

from telethon.extensions import html as tl_html
from telethon.helpers import add_surrogate, del_surrogate
from telethon.tl.types import TypeMessageEntity

TELEGRAM_LIMIT = 4096
"""Maximum message length, in UTF-16 code units."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def _is_high(ch: str) -> bool:
    return "\ud800" <= ch <= "\udbff"


def _is_low(ch: str) -> bool:
    return "\udc00" <= ch <= "\udfff"


def _coverage(entities: list[TypeMessageEntity], size: int, limit: int,
              ) -> tuple[list[bool], list[int]]:
    """Per unit: is it covered by an entity; per cut point: how many short entities it cuts."""
    covered = [0] * (size + 1)
    inside_short = [0] * (size + 2)
    for ent in entities:
        start = max(0, min(size, ent.offset))
        end = max(start, min(size, ent.offset + ent.length))
        if end <= start:
            continue
        covered[start] += 1
        covered[end] -= 1
        if ent.length <= limit:  # cut points strictly inside it: start+1 .. end-1
            inside_short[start + 1] += 1
            inside_short[end] -= 1
    cov: list[bool] = []
    run = 0
    for i in range(size):
        run += covered[i]
        cov.append(run > 0)
    depth_short: list[int] = []
    run = 0
    for c in range(size + 1):
        run += inside_short[c]
        depth_short.append(run)
    return cov, depth_short


class _EntitySlicer:
    """Hands out the entities of consecutive, increasing parts in one pass over them."""

    def __init__(self, entities: list[TypeMessageEntity]) -> None:
        self._entities = entities
        self._order = sorted(range(len(entities)), key=lambda i: entities[i].offset)
        self._next = 0  # position in _order of the first entity not yet seen
        self._open: list[int] = []  # seen entities that may reach into later parts

    def take(self, start: int, end: int) -> list[TypeMessageEntity]:
        """The parts of the entities inside [start, end), re-based to ``start``.

        Copies keep the input order; ``start`` must not be less than the previous ``end``.
        """
        while self._next < len(self._order):
            index = self._order[self._next]
            if self._entities[index].offset >= end:
                break
            self._open.append(index)
            self._next += 1
        result: list[tuple[int, TypeMessageEntity]] = []
        still_open: list[int] = []
        for index in self._open:
            ent = self._entities[index]
            ent_end = ent.offset + ent.length
            if ent_end > end:
                still_open.append(index)
            ent_start = max(ent.offset, start)
            ent_end = min(ent_end, end)
            if ent_end > ent_start:
                piece = copy.copy(ent)
                piece.offset = ent_start - start
                piece.length = ent_end - ent_start
                result.append((index, piece))
        self._open = still_open
        result.sort(key=lambda item: item[0])
        return [piece for _, piece in result]


def _choose_cut(units: str, lo: int, hi: int, depth_short: list[int]) -> int | None:
    """The best cut point in [lo, hi] (see the module docstring), or None if none is valid."""
    best: list[int | None] = [None] * 6  # tier * 3 + kind
    for c in range(hi, lo - 1, -1):
        if _is_high(units[c - 1]) and c < len(units) and _is_low(units[c]):
            continue  # between the halves of a surrogate pair
        tier = 0 if depth_short[c] == 0 else 1
        before = units[c - 1]
        kind = 0 if before == "\n" else 1 if before.isspace() else 2
        slot = tier * 3 + kind
        if best[slot] is None:
            best[slot] = c
            if slot == 0:
                break  # the last newline cutting no short entity: nothing beats it
    return next((c for c in best if c is not None), None)


def split_message(text: str, entities: list[TypeMessageEntity], limit: int = TELEGRAM_LIMIT,
                  *, first_limit: int | None = None,
                  ) -> list[tuple[str, list[TypeMessageEntity]]]:
    """Split ``text`` with its ``entities`` into parts of at most ``limit`` UTF-16 units.

    ``text`` is an ordinary ``str`` and entity offsets/lengths are in UTF-16 code units,
    as ``telethon.extensions.html.parse`` returns them. Each returned part has its own
    entities re-based to it; the input entities are not modified. A message that fits is
    returned as ``[(text, entities)]`` unchanged. ``first_limit``: the first part's own
    limit (a photo's caption, then messages).
    """
    first_limit = limit if first_limit is None else first_limit
    if min(limit, first_limit) < 2:
        raise ValueError("limit must be at least 2 UTF-16 units (one surrogate pair)")
    units = add_surrogate(text)
    size = len(units)
    if size <= first_limit:
        return [(text, entities)]

    cov, depth_short = _coverage(entities, size, min(limit, first_limit))
    slicer = _EntitySlicer(entities)
    parts: list[tuple[str, list[TypeMessageEntity]]] = []

    def emit(start: int, end: int) -> None:
        parts.append((del_surrogate(units[start:end]), slicer.take(start, end)))

    start = 0
    while start < size:
        lim = first_limit if not parts else limit
        if start > 0:  # at a cut: drop whitespace no entity covers
            while start < size and units[start].isspace() and not cov[start]:
                start += 1
        first = start  # first non-whitespace unit
        while first < size and units[first].isspace():
            first += 1
        if first == size:
            break  # only whitespace left (after a cut, or the whole text)
        if first - start >= lim:
            start = first  # a whitespace run no part could hold with any content
            continue
        if size - start <= lim:
            emit(start, size)
            break
        cut = _choose_cut(units, first + 1, start + lim, depth_short)
        if cut is None:
            start = first  # a surrogate pair right at the limit after leading whitespace
            continue
        end = cut
        while end > first and units[end - 1].isspace() and not cov[end - 1]:
            end -= 1
        emit(start, end)
        start = cut
    return parts


def split_html(html: str, limit: int = TELEGRAM_LIMIT, *, first_limit: int | None = None,
               ) -> list[tuple[str, list[TypeMessageEntity]]]:
    """Parse Telegram HTML with Telethon and split the result with :func:`split_message`."""
    text, entities = tl_html.parse(html)
    return split_message(text, entities, limit, first_limit=first_limit)
