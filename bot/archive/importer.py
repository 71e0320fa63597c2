"""``chanwatch import``: export files into the archive, as searchable posts that never alert.

Two formats, told apart by their content (gzip'd or not): Telegram Desktop's "Export chat
history" JSON (bot/archive/tdexport.py) and chanwatch's own JSONL export (one post per line,
the fields of bot/archive/export.py). Each file is read as a stream and stored in batches
inside ONE transaction (PostRepository.save_imported): a bad file rolls back whole, memory
stays bounded however long the file. Posts get source ``import``, their full-text terms
(TermMaker) and the matches of this instance's rules — recorded like backfill, never queued.
Posts already stored (the same channel and message id, from the live reader or an earlier
import) are counted and left alone, so importing twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import re
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol, TextIO, cast
from zoneinfo import ZoneInfo

from bot.archive.tdexport import ImportedPost, ImportFormatError, Skipped, TdExport, Version
from bot.archive.tdexport import permalink as make_permalink
from bot.archive.terms import TermMaker
from bot.match import Lemmatizer
from bot.models import Post, TextTerms
from bot.regions.places import PlaceMatcher
from bot.store import RuleHitRecord, Store

BATCH = 2000
TERM_CACHE = 50_000  # texts whose terms are kept (~50 MB at most)
SNIFF = 1 << 16
JSONL_FIELDS = frozenset({
    "post_id", "channel_id", "channel_username", "channel_title", "message_id", "date",
    "edit_date", "text", "views", "forwards", "reactions", "edits", "deleted_at",
    "forwarded_from", "reply_to", "grouped_id", "media", "matched_rules", "regions", "link",
    "source", "image_text", "versions"})
_FIRST_KEY_RE = re.compile(r'\s*\{\s*"((?:[^"\\]|\\.)*)"')


class ImportTarget(Protocol):
    """What an import writes into (bot/cli_tools/archive.Archive is one)."""

    store: Store
    lemmatizer: Lemmatizer
    places: PlaceMatcher


@dataclass(frozen=True)
class ImportProgress:
    """How far the file being imported is read."""

    path: Path
    done_bytes: int
    total_bytes: int
    posts: int


@dataclass
class ImportSummary:
    """What an import did: posts new, already there, messages skipped and why."""

    files: int = 0
    new: int = 0
    existing: int = 0
    service: int = 0
    empty: int = 0
    other_chats: int = 0

    @property
    def skipped(self) -> int:
        """Messages read that are not posts."""
        return self.service + self.empty + self.other_chats

    def line(self) -> str:
        """The summary for a person."""
        files = f"{self.files} file" + ("" if self.files == 1 else "s")
        why = [f"{self.service:,} service messages", f"{self.empty:,} empty"]
        if self.other_chats:
            why.append(f"{self.other_chats:,} messages of chats that are no channel")
        return (f"imported {files}: {self.new:,} posts new, {self.existing:,} already there,"
                f" {self.skipped:,} skipped ({', '.join(why)})")


Row = tuple[Post, TextTerms, Sequence[RuleHitRecord], int | None, dt.datetime | None,
            Sequence[tuple[str, dt.datetime | None, dt.datetime, TextTerms]]]


class _Terms:
    """TermMaker with a bounded LRU cache by text digest: a text repeated is lemmatised once.

    Channels repeat texts (reposts, captionless album parts, daily templates), and an archive
    imported twice or merged from overlapping exports repeats them all. The key is a 16-byte
    digest, so the cache costs the terms only (~1 KB a post), not the texts.
    """

    def __init__(self, maker: TermMaker, size: int = TERM_CACHE) -> None:
        self._maker = maker
        self._size = size
        self._cache: OrderedDict[bytes, TextTerms] = OrderedDict()

    def of(self, text: str) -> TextTerms:
        key = hashlib.blake2b(text.encode(), digest_size=16).digest()
        cache = self._cache
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return found
        found = cache[key] = self._maker.of(text)
        if len(cache) > self._size:
            cache.popitem(last=False)
        return found


def _open(path: Path) -> tuple[IO[bytes], TextIO]:
    """The file (for its position) and its text, gunzipped if it is gzip."""
    raw = path.open("rb")
    try:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        binary = cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if gzipped else raw
        return raw, io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    except BaseException:
        raw.close()
        raise


def detect(path: Path) -> str:
    """'tdesktop' or 'jsonl', by the file's first key; ImportFormatError if neither."""
    raw, text = _open(path)
    with raw, text:
        head = text.read(SNIFF)
    if not head.strip():
        raise ImportFormatError("the file is empty")
    found = _FIRST_KEY_RE.match(head)
    if found is None:
        if head.lstrip().startswith("{"):
            raise ImportFormatError("line 1: an object without keys is no export")
        raise ImportFormatError("neither a Telegram Desktop export (result.json) nor"
                                " chanwatch JSONL: it does not start with a JSON object")
    return "jsonl" if found.group(1) in JSONL_FIELDS else "tdesktop"


def _when(value: object, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a date: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not a date: {value!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _int(row: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} is not a number: {value!r}")
    return value


def _str(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} is not a string: {value!r}")
    return value


def jsonl_post(row: dict[str, Any]) -> ImportedPost:
    """One line of chanwatch's JSONL export as a post."""
    channel_id = _int(row, "channel_id", required=True)
    message_id = _int(row, "message_id", required=True)
    assert channel_id is not None and message_id is not None
    date = _when(row.get("date"), "date")
    if date is None:
        raise ValueError("no date")
    username = _str(row, "channel_username")
    versions = []
    raw_versions = row.get("versions") or []
    if not isinstance(raw_versions, list):
        raise ValueError("versions is not a list")
    for v in raw_versions:
        if not isinstance(v, dict) or not isinstance(v.get("text"), str):
            raise ValueError("a version is not an object with a text")
        replaced = _when(v.get("replaced_at"), "replaced_at") or date
        versions.append(Version(v["text"], _when(v.get("edit_date"), "edit_date"), replaced))
    post = Post(
        channel_id=channel_id, message_id=message_id, date=date, text=_str(row, "text") or "",
        permalink=_str(row, "link") or make_permalink(channel_id, username, message_id),
        views=_int(row, "views"), forwards=_int(row, "forwards"),
        fwd_from=_str(row, "forwarded_from"), reply_to=_int(row, "reply_to"),
        grouped_id=_int(row, "grouped_id"), media=_str(row, "media"),
        edit_date=_when(row.get("edit_date"), "edit_date"), channel_username=username)
    return ImportedPost(post, _str(row, "channel_title") or str(channel_id),
                        reactions=_int(row, "reactions"),
                        deleted_at=_when(row.get("deleted_at"), "deleted_at"),
                        versions=tuple(versions))


def jsonl_posts(fh: IO[str]) -> Iterator[ImportedPost]:
    """Every post of a JSONL export; ImportFormatError naming the line if one is bad."""
    for number, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"line {number} column {exc.pos + 1}: {exc.msg}"
                                    ) from None
        if not isinstance(row, dict):
            raise ImportFormatError(f"line {number}: not a JSON object")
        try:
            yield jsonl_post(row)
        except ValueError as exc:
            raise ImportFormatError(f"line {number}: {exc}") from None


class _FileImport:
    """One file: its posts in batches (channels first), each with terms and matches."""

    def __init__(self, importer: Importer, path: Path, raw: IO[bytes],
                 posts: Iterator[ImportedPost]) -> None:
        self._importer = importer
        self._path = path
        self._raw = raw
        self._posts = posts
        self._total = path.stat().st_size
        self.read = 0

    async def batches(self) -> AsyncIterator[tuple[Sequence[tuple[int, str | None, str]],
                                                   Sequence[Row]]]:
        chunk: list[ImportedPost] = []
        for item in self._posts:
            chunk.append(item)
            if len(chunk) >= self._importer.batch:
                yield self._importer.rows(chunk)
                self._progress(len(chunk))
                chunk = []
        if chunk:
            yield self._importer.rows(chunk)
            self._progress(len(chunk))

    def _progress(self, posts: int) -> None:
        self.read += posts
        if self._importer.progress is not None:
            done = min(self._raw.tell(), self._total) if not self._raw.closed else self._total
            self._importer.progress(ImportProgress(self._path, done, self._total, self.read))


class Importer:
    """Imports files into one archive; holds the rules, the term cache and known usernames."""

    def __init__(self, target: ImportTarget, *, tz: ZoneInfo | None = None,
                 username: str | None = None, batch: int = BATCH,
                 progress: Callable[[ImportProgress], None] | None = None) -> None:
        from bot.services.rules import RulesService

        self._store = target.store
        self._rules = RulesService(target.store, target.lemmatizer, places=target.places)
        self._terms = _Terms(TermMaker.for_places(target.lemmatizer, target.places))
        self._tz = tz or ZoneInfo("UTC")
        self._username = username
        self.batch = batch
        self.progress = progress
        self._usernames: dict[int, str | None] = {}

    async def prepare(self) -> None:
        """Read what the import needs from the database (before its transaction holds it)."""
        await self._rules.rebuild()
        self._usernames = {s.channel.id: s.channel.username
                           for s in await self._store.channels.stats()}

    def rows(self, items: Sequence[ImportedPost]) -> tuple[
            list[tuple[int, str | None, str]], list[Row]]:
        """The channels and store rows of a batch (terms, this instance's rule matches)."""
        channels: dict[int, tuple[int, str | None, str]] = {}
        rows: list[Row] = []
        terms_of, match = self._terms.of, self._rules.index.match
        for item in items:
            post = item.post
            if post.channel_id not in channels:
                known = self._usernames.get(post.channel_id)
                if known is None and post.channel_id not in self._usernames:
                    self._usernames[post.channel_id] = post.channel_username
                channels[post.channel_id] = (post.channel_id, post.channel_username,
                                             item.channel_title)
            known = self._usernames.get(post.channel_id)
            if post.channel_username is None and known:
                # the export did not say it (Telegram Desktop never does); the archive knows
                post = replace(post, channel_username=known,
                               permalink=make_permalink(post.channel_id, known,
                                                        post.message_id))
            hits = [RuleHitRecord(h.rule_id, h.spans)
                    for h in match(post.text, post.channel_username)]
            versions = [(v.text, v.edit_date, v.replaced_at, terms_of(v.text))
                        for v in item.versions]
            rows.append((post, terms_of(post.text), hits, item.reactions, item.deleted_at,
                         versions))
        return list(channels.values()), rows

    async def import_file(self, path: Path, summary: ImportSummary) -> None:
        """Import one file in one transaction; ImportFormatError (nothing kept) if bad."""
        try:
            kind = detect(path)
            raw, text = _open(path)
            with raw, text:
                skipped = Skipped()
                if kind == "jsonl":
                    posts = jsonl_posts(text)
                else:
                    export = TdExport(text, self._tz, self._username)
                    posts, skipped = export.posts(), export.skipped
                job = _FileImport(self, path, raw, posts)
                new, existing = await self._store.posts.save_imported(job.batches())
        except ImportFormatError as exc:
            raise ImportFormatError(f"{path}: {exc}") from None
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
            raise ImportFormatError(f"{path}: cannot read it: {exc}") from None
        summary.files += 1
        summary.new += new
        summary.existing += existing
        summary.service += skipped.service
        summary.empty += skipped.empty
        summary.other_chats += skipped.other_chats


async def import_paths(archive: ImportTarget, paths: Sequence[Path | str],
                       progress: Callable[[ImportProgress], None] | None = None, *,
                       tz: ZoneInfo | None = None, username: str | None = None,
                       batch: int = BATCH) -> ImportSummary:
    """Import these files in order, each in its own transaction; the summary.

    A bad file raises ImportFormatError (one line: the file, the line/column or message and
    the problem); files before it stay imported, nothing of it does.
    """
    importer = Importer(archive, tz=tz, username=username, batch=batch, progress=progress)
    await importer.prepare()
    summary = ImportSummary()
    for path in paths:
        await importer.import_file(Path(path), summary)
    return summary
