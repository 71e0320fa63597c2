"""Matching posts out of the archive: CSV, JSON lines, or the forward network as GEXF.

Everything streams: posts come a batch at a time from the search (oldest first, so a file
reads the way the channels wrote and an import replays edits in order), each batch gets its
matched rules (and, for JSON lines, its earlier texts) in one query, and is written before
the next is read. Memory stays flat however many posts match; only the forward network is
held whole (one node per channel, one edge per pair).

``export(archive, selection, fmt, out)`` writes to any binary file. ``UploadFile`` is the
file ``/export`` sends: a temporary file on disk that turns to gzip past ``gzip_above`` bytes
and stops the export (``TooLarge``) as soon as it passes Telegram's upload limit.

Columns and fields (README "Export columns") are ``COLUMNS``, in that order; JSON lines add
``versions``. ``chanwatch import`` reads the JSON lines back.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gzip
import io
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from bot.archive.search import ArchiveSearch, CompiledSearch, SearchHit
from bot.clock import to_iso
from bot.store import Store
from bot.store.export import ChannelName, MatchedRule, PostVersion
from bot.store.records import ArchivedPost, SearchWindow

FORMATS = ("csv", "jsonl", "gexf")
COLUMNS = ("post_id", "channel_id", "channel_username", "channel_title", "message_id", "date",
           "edit_date", "text", "views", "forwards", "reactions", "edits", "deleted_at",
           "forwarded_from", "reply_to", "grouped_id", "media", "matched_rules", "regions",
           "link", "source", "image_text")
UPLOAD_LIMIT = 50 * 1024 * 1024  # what Telegram lets a bot upload
GZIP_ABOVE = 1024 * 1024  # /export sends a bigger file gzipped
BATCH = 500

# What is exported: the posts a query matches, or every post in a window (no query).
Selection = CompiledSearch | SearchWindow
Progress = Callable[[int], None]  # called with the posts of each batch written


class Sink(Protocol):
    """Where an export is written: a binary file, a GzipFile, an UploadFile."""

    def write(self, data: bytes, /) -> int: ...


class ExportSource(Protocol):
    """Where posts come from: the store and the search over it (a tool's Archive is one)."""

    @property
    def store(self) -> Store: ...

    @property
    def search(self) -> ArchiveSearch: ...


@dataclass(frozen=True)
class ArchiveAccess:
    """An ExportSource from its parts (the bot's services)."""

    store: Store
    search: ArchiveSearch


class TooLarge(Exception):
    """The export passed the size it may have (``limit`` bytes, compressed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the export is larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class ExportRow:
    """One post with what the export adds to it."""

    post: ArchivedPost
    rules: tuple[MatchedRule, ...]
    versions: tuple[PostVersion, ...]


@dataclass(frozen=True)
class ExportSummary:
    """What was written: posts (for gexf: forwarded posts), their first and last date."""

    posts: int
    first: dt.datetime | None
    last: dt.datetime | None
    nodes: int = 0  # gexf only
    edges: int = 0


def selection(search: ArchiveSearch, text: str, since: dt.datetime | None,
              until: dt.datetime | None) -> Selection:
    """The query compiled (RuleSyntaxError / ValueError), or the bare window if it is empty."""
    if not text.strip():
        return SearchWindow(since, until)
    return search.compile(text, since, until)


# ------------------------------------------------------------------ reading
async def hits(archive: ExportSource, chosen: Selection, *, batch: int = BATCH,
               ) -> AsyncIterator[SearchHit]:
    """The selected posts, oldest first."""
    if isinstance(chosen, CompiledSearch):
        async for hit in archive.search.stream(chosen, oldest_first=True, batch=batch):
            yield hit
        return
    cursor = None
    while True:
        cursors = await archive.store.archive.candidates(None, chosen, cursor, batch,
                                                         oldest_first=True)
        for post in await archive.store.archive.posts([i for _, i in cursors]):
            yield SearchHit(post, ())
        if len(cursors) < batch:
            return
        cursor = cursors[-1]


async def rows(archive: ExportSource, chosen: Selection, *, chat_id: int | None = None,
               versions: bool = True, batch: int = BATCH) -> AsyncIterator[list[ExportRow]]:
    """The selected posts in batches, each with its rules (``chat_id``'s only) and versions."""
    pending: list[ArchivedPost] = []

    async def complete() -> list[ExportRow]:
        ids = [p.id for p in pending]
        rules = await archive.store.export.matched_rules(ids, chat_id)
        texts = await archive.store.export.versions(ids) if versions else {}
        return [ExportRow(p, tuple(rules.get(p.id, ())), tuple(texts.get(p.id, ())))
                for p in pending]

    async for hit in hits(archive, chosen, batch=batch):
        pending.append(hit.post)
        if len(pending) >= batch:
            yield await complete()
            pending = []
    if pending:
        yield await complete()


# ------------------------------------------------------------------ records
def _iso(value: dt.datetime | None) -> str | None:
    return to_iso(value) if value is not None else None


def json_record(row: ExportRow) -> dict[str, Any]:
    """A post as one JSON line: COLUMNS, then its earlier texts (``versions``)."""
    p, post = row.post, row.post.post
    record: dict[str, Any] = {
        "post_id": p.id, "channel_id": post.channel_id,
        "channel_username": post.channel_username, "channel_title": p.channel_title,
        "message_id": post.message_id, "date": to_iso(post.date),
        "edit_date": _iso(post.edit_date), "text": post.text, "views": post.views,
        "forwards": post.forwards, "reactions": p.reactions, "edits": p.edits,
        "deleted_at": _iso(p.deleted_at), "forwarded_from": post.fwd_from,
        "reply_to": post.reply_to, "grouped_id": post.grouped_id, "media": post.media,
        "matched_rules": [{"chat_id": r.chat_id, "rule": r.number, "expression": r.expression}
                          for r in row.rules],
        "regions": list(p.regions), "link": post.permalink, "source": p.source,
        "image_text": p.image_text or None,
        "versions": [{"text": v.text, "edit_date": _iso(v.edit_date),
                      "replaced_at": to_iso(v.replaced_at)} for v in row.versions],
    }
    return record


def csv_record(row: ExportRow) -> list[str]:
    """A post as one CSV row (COLUMNS): empty for unknown, lists space-separated."""
    record = json_record(row)
    record["matched_rules"] = " ".join(f"{r.chat_id}#{r.number}" for r in row.rules)
    record["regions"] = " ".join(row.post.regions)
    return ["" if record[c] is None else str(record[c]) for c in COLUMNS]


def _csv_lines(records: Sequence[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(records)
    return buffer.getvalue()


def _encode(fmt: str, batch: Sequence[ExportRow]) -> bytes:
    if fmt == "csv":
        return _csv_lines([csv_record(r) for r in batch]).encode("utf-8")
    return "".join(json.dumps(json_record(r), ensure_ascii=False) + "\n"
                   for r in batch).encode("utf-8")


# ------------------------------------------------------------------ writing
async def export(archive: ExportSource, chosen: Selection, fmt: str, out: Sink, *,
                 chat_id: int | None = None, progress: Progress | None = None,
                 batch: int = BATCH) -> ExportSummary:
    """Write the selected posts to ``out`` as csv, jsonl or gexf; what was written.

    ``chat_id``: matched_rules name that chat's rules only (``/export``); None: every rule.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    if fmt == "gexf":
        return await _export_gexf(archive, chosen, out, progress, batch)
    if fmt == "csv":
        out.write(_csv_lines([list(COLUMNS)]).encode("utf-8"))
    posts = 0
    first = last = None
    async for found in rows(archive, chosen, chat_id=chat_id, versions=fmt == "jsonl",
                            batch=batch):
        # encoding (and gzip, in UploadFile) is CPU work: off the event loop
        data = await asyncio.to_thread(_encode, fmt, found)
        await asyncio.to_thread(out.write, data)
        posts += len(found)
        first = first or found[0].post.post.date
        last = found[-1].post.post.date
        if progress is not None:
            progress(len(found))
    return ExportSummary(posts, first, last)


# ------------------------------------------------------------------ the forward network
def forward_source(fwd_from: str, by_id: dict[int, ChannelName],
                   by_username: dict[str, ChannelName]) -> tuple[str, str] | None:
    """(node id, label) of where a forward came from; None for a hidden origin.

    ``fwd_from`` (bot/models.py Post.fwd_from): ``channel:<id>[/<msg>]`` and ``name:@user[/<msg>]``
    are our channel's node when we store that channel; anything else is a node of its own,
    labelled by what ``fwd_from`` says (``user:<id>``, ``chat:<id>``, a shown name).
    """
    kind, _, rest = fwd_from.partition(":")
    if kind == "channel":
        raw = rest.split("/", 1)[0]
        if raw.isdigit() and int(raw) in by_id:
            return _channel_node(by_id[int(raw)])
        return f"channel:{raw}", f"channel:{raw}"
    if kind == "name" and rest.startswith("@"):
        username = rest[1:].split("/", 1)[0]
        known = by_username.get(username.lower())
        if known is not None:
            return _channel_node(known)
        return f"@{username.lower()}", f"@{username}"
    if kind in ("user", "chat"):
        return fwd_from, fwd_from
    if kind == "name" and rest:
        return fwd_from, rest
    return None  # "hidden": no identity to draw


def _channel_node(channel: ChannelName) -> tuple[str, str]:
    return str(channel.id), channel.title


async def forward_counts(archive: ExportSource, chosen: Selection, progress: Progress | None,
                         batch: int = BATCH) -> Counter[tuple[int, str]]:
    """Forwarded posts per (channel id, fwd_from) among the selected posts."""
    if isinstance(chosen, SearchWindow):  # every post: SQL counts them
        return Counter({(c, f): n for c, f, n in await archive.store.export.forward_edges(chosen)})
    counts: Counter[tuple[int, str]] = Counter()
    seen = 0
    async for hit in hits(archive, chosen, batch=batch):
        if hit.post.post.fwd_from:
            counts[(hit.post.post.channel_id, hit.post.post.fwd_from)] += 1
        seen += 1
        if progress is not None and seen % batch == 0:
            progress(batch)
    if progress is not None and seen % batch:
        progress(seen % batch)
    return counts


async def _export_gexf(archive: ExportSource, chosen: Selection, out: Sink,
                       progress: Progress | None, batch: int) -> ExportSummary:
    import networkx as nx

    counts = await forward_counts(archive, chosen, progress, batch)
    channels = await archive.store.export.channel_names()
    by_id = {c.id: c for c in channels}
    by_username = {c.username.lower(): c for c in channels if c.username}
    graph = nx.DiGraph()
    weights: Counter[tuple[str, str]] = Counter()
    for (channel_id, fwd_from), n in sorted(counts.items()):
        source = forward_source(fwd_from, by_id, by_username)
        if source is None:
            continue
        forwarder = by_id.get(channel_id)
        if forwarder is None:  # posts reference channels; never expected
            continue
        for node, label in (_channel_node(forwarder), source):
            if node not in graph:
                graph.add_node(node, label=label, **_node_attributes(node, by_id))
        weights[(str(channel_id), source[0])] += n
    for (a, b), n in sorted(weights.items()):
        graph.add_edge(a, b, weight=n)
    await asyncio.to_thread(nx.write_gexf, graph, out)
    return ExportSummary(sum(weights.values()), None, None, graph.number_of_nodes(),
                         graph.number_of_edges())


def _node_attributes(node: str, by_id: dict[int, ChannelName]) -> dict[str, str]:
    channel = by_id.get(int(node)) if node.isdigit() else None
    if channel is None:
        return {"username": "", "kind": "external"}
    return {"username": channel.username or "", "kind": "channel"}


# ------------------------------------------------------------------ the file /export sends
class UploadFile:
    """A temporary file that gzips itself past ``gzip_above`` bytes and refuses ``limit``.

    Writes go to a plain temporary file; when it grows past ``gzip_above`` its content is
    compressed into a second temporary file, which takes every later write. ``TooLarge`` is
    raised as soon as the (compressed) file passes ``limit``, so the export stops there.
    """

    def __init__(self, *, gzip_above: int = GZIP_ABOVE, limit: int = UPLOAD_LIMIT) -> None:
        if gzip_above > limit:
            raise ValueError("gzip_above must not exceed the limit")
        self._gzip_above = gzip_above
        self._limit = limit
        self._plain: IO[bytes] | None = tempfile.TemporaryFile()
        self._raw: IO[bytes] | None = None  # the compressed file, once there is one
        self._gzip: gzip.GzipFile | None = None
        self.size = 0  # bytes the file has on disk (compressed: what has been flushed)

    @property
    def compressed(self) -> bool:
        """Whether the file is gzip."""
        return self._raw is not None

    def write(self, data: bytes) -> int:
        """Add bytes; TooLarge once the file passes the limit."""
        if self._gzip is not None and self._raw is not None:
            self._gzip.write(data)
            # zlib holds output back; a sync flush per write (a batch of posts) costs a few
            # bytes and makes the size on disk exact, so the limit stops the export in time
            self._gzip.flush()
            self.size = self._raw.tell()
        else:
            assert self._plain is not None
            self._plain.write(data)
            self.size = self._plain.tell()
            if self.size > self._gzip_above:
                self._switch()
        if self.size > self._limit:
            raise TooLarge(self._limit)
        return len(data)

    def _switch(self) -> None:
        assert self._plain is not None
        self._raw = tempfile.TemporaryFile()
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)
        self._plain.seek(0)
        shutil.copyfileobj(self._plain, self._gzip)
        self._plain.close()
        self._plain = None
        self._gzip.flush()
        self.size = self._raw.tell()

    def finish(self) -> bytes:
        """The whole file (at most ``limit`` bytes), or TooLarge."""
        handle = self._plain
        if self._gzip is not None and self._raw is not None:
            self._gzip.close()  # writes the gzip trailer; leaves the file open
            handle = self._raw
        assert handle is not None
        self.size = handle.tell()
        if self.size > self._limit:
            raise TooLarge(self._limit)
        handle.seek(0)
        return handle.read()

    def close(self) -> None:
        """Remove the temporary files."""
        if self._gzip is not None:
            self._gzip.close()
        for handle in (self._plain, self._raw):
            if handle is not None:
                handle.close()

    def __enter__(self) -> UploadFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
