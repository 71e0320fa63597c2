"""What an export adds to the posts it streams: rules matched, earlier texts, forward edges."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.clock import from_iso
from bot.store.archive import _where
from bot.store.base import Repository
from bot.store.records import SearchWindow
from bot.store.rows import opt_dt


@dataclass(frozen=True)
class MatchedRule:
    """A rule that matched a post: the chat it belongs to and its number there."""

    chat_id: int
    number: int
    expression: str


@dataclass(frozen=True)
class PostVersion:
    """An earlier text of an edited post (post_versions)."""

    text: str
    edit_date: dt.datetime | None  # when that text was written (None: the original)
    replaced_at: dt.datetime  # when chanwatch saw it replaced


@dataclass(frozen=True)
class ChannelName:
    """A stored channel as the forward network labels it."""

    id: int
    username: str | None
    title: str


def _marks(ids: Sequence[int]) -> tuple[str, list[int]]:
    wanted = sorted(set(ids))
    return ",".join("?" * len(wanted)), wanted


class ExportRepository(Repository):
    """Batch look-ups for ``chanwatch export`` and ``/export`` (one query per batch of posts)."""

    async def matched_rules(self, post_ids: Sequence[int], chat_id: int | None = None,
                            ) -> dict[int, list[MatchedRule]]:
        """The rules that matched each post, by chat and number (``chat_id``: that chat's only).

        Rules deleted since still count: a match is history, and numbers are never reused.
        """
        if not post_ids:
            return {}
        marks, params = _marks(post_ids)
        only = ""
        if chat_id is not None:
            only = " AND r.chat_id = ?"
            params.append(chat_id)
        rows = await self._db.fetchall(
            "SELECT m.post_id, r.chat_id, r.number, r.expression FROM matches m"
            f" JOIN rules r ON r.id = m.rule_id WHERE m.post_id IN ({marks}){only}"
            " ORDER BY m.post_id, r.chat_id, r.number", params)
        out: dict[int, list[MatchedRule]] = defaultdict(list)
        for r in rows:
            out[int(r[0])].append(MatchedRule(int(r[1]), int(r[2]), str(r[3])))
        return dict(out)

    async def versions(self, post_ids: Sequence[int]) -> dict[int, list[PostVersion]]:
        """The earlier texts of each post, oldest first."""
        if not post_ids:
            return {}
        marks, params = _marks(post_ids)
        rows = await self._db.fetchall(
            "SELECT post_id, text, edit_date, replaced_at FROM post_versions"
            f" WHERE post_id IN ({marks}) ORDER BY post_id, id", params)
        out: dict[int, list[PostVersion]] = defaultdict(list)
        for r in rows:
            out[int(r[0])].append(PostVersion(str(r[1]), opt_dt(r[2]), from_iso(r[3])))
        return dict(out)

    async def forward_edges(self, window: SearchWindow) -> list[tuple[int, str, int]]:
        """(channel id, fwd_from, posts) over every forwarded post in the window, sorted."""
        where, params = _where(window, None)
        rows = await self._db.fetchall(
            "SELECT p.channel_id, p.fwd_from, COUNT(*) FROM posts p"
            f" WHERE p.fwd_from IS NOT NULL AND {where}"
            " GROUP BY p.channel_id, p.fwd_from ORDER BY p.channel_id, p.fwd_from", params)
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def channel_names(self) -> list[ChannelName]:
        """Every stored channel (id, username, title), by id."""
        rows = await self._db.fetchall("SELECT id, username, title FROM channels ORDER BY id")
        return [ChannelName(int(r[0]), r[1], str(r[2])) for r in rows]
