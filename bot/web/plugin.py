"""The Datasette plugin of ``chanwatch web``: the rule language in SQL, a search box, no writes.

One object, registered with Datasette's plugin manager by bot/web/site.py, holds what the
hooks need (lemmatizer, places, clock, time zone); nothing is global. Its hooks:

- ``prepare_connection``: on the archive's connections, the SQL functions ``chanwatch_fts``
  and ``chanwatch_match`` (bot/web/queries.py) and an authorizer that refuses every write
  and every read of the service's own tables, whatever SQL a visitor types (the connection
  is opened ``mode=ro`` by Datasette too: this is the second lock).
- ``filters_from_request``: ``?_search=`` on the posts table takes the rule language (and a
  trailing ``since …`` / ``until …``, as /search does), so the table page, its facets, its
  paging and its CSV/JSON all work on the results.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils.asgi import BadRequest

from bot.archive.search import ArchiveSearch, CompiledSearch
from bot.archive.window import WindowError, split_window
from bot.clock import Clock, to_iso
from bot.match import Lemmatizer, RuleSyntaxError
from bot.regions.places import PlaceMatcher
from bot.web import queries

# authorizer actions that change something; SQLITE_READ is decided per table
_WRITES = frozenset(getattr(sqlite3, name) for name in (
    "SQLITE_INSERT", "SQLITE_UPDATE", "SQLITE_DELETE", "SQLITE_ALTER_TABLE", "SQLITE_ATTACH",
    "SQLITE_DETACH", "SQLITE_REINDEX", "SQLITE_ANALYZE", "SQLITE_CREATE_INDEX",
    "SQLITE_CREATE_TABLE", "SQLITE_CREATE_TRIGGER", "SQLITE_CREATE_VIEW", "SQLITE_CREATE_VTABLE",
    "SQLITE_DROP_INDEX", "SQLITE_DROP_TABLE", "SQLITE_DROP_TRIGGER", "SQLITE_DROP_VIEW",
    "SQLITE_DROP_VTABLE", "SQLITE_CREATE_TEMP_INDEX", "SQLITE_CREATE_TEMP_TABLE",
    "SQLITE_CREATE_TEMP_TRIGGER", "SQLITE_CREATE_TEMP_VIEW", "SQLITE_DROP_TEMP_INDEX",
    "SQLITE_DROP_TEMP_TABLE", "SQLITE_DROP_TEMP_TRIGGER", "SQLITE_DROP_TEMP_VIEW",
))
# pragmas that take an argument and only read (Datasette's introspection uses them); any
# other pragma given a value would change the connection (writable_schema, journal_mode …)
_READING_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "database_list", "function_list", "module_list", "pragma_list",
})
COMPILED_CACHE = 256
F = TypeVar("F", bound=Callable[..., Any])


def _hook(fn: F) -> F:
    return cast(F, hookimpl(fn))  # datasette's marker is untyped; it returns the function


def _hook_last(fn: F) -> F:
    return cast(F, hookimpl(trylast=True)(fn))


def readable(table: str) -> bool:
    """Whether a visitor's SQL may read this table (the archive, FTS5, SQLite's schema)."""
    return (table in queries.ARCHIVE_TABLES or table.startswith(queries.FTS_TABLES)
            or table.startswith("sqlite_") or table.startswith("pragma_"))


def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None,
              _source: str | None) -> int:
    """SQLite authorizer: no writes, no pragma settings; reads only of the archive's tables."""
    if action == sqlite3.SQLITE_UPDATE and arg1 in ("sqlite_master", "sqlite_schema"):
        # SQLite asks this while it connects an FTS5 table for a query; IGNORE drops any
        # such change (none can happen: the file is opened mode=ro) and lets the read go on
        return sqlite3.SQLITE_IGNORE
    if action in _WRITES:
        return sqlite3.SQLITE_DENY
    if (action == sqlite3.SQLITE_PRAGMA and arg2 is not None
            and (arg1 or "").lower() not in _READING_PRAGMAS):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and arg1 is not None and not readable(arg1):
        # no column: COUNT(*), which Datasette runs on every table; it reads no content
        return sqlite3.SQLITE_IGNORE if not arg2 else sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class ChanwatchPlugin:
    """The hooks, bound to one archive database (by its name in Datasette)."""

    def __init__(self, database: str, lemmatizer: Lemmatizer, places: PlaceMatcher | None,
                 clock: Clock, tz: ZoneInfo) -> None:
        self.database = database
        # Datasette lists plugins by a module's __name__ (and looks for static/ in it)
        self.__name__ = __package__ or "bot.web"
        self._clock = clock
        self._tz = tz
        # compile() only parses and compiles: it never reads the store, and the web view has
        # no read-write store to give it (Datasette owns the read-only connections)
        search = ArchiveSearch(None, lemmatizer, places)  # type: ignore[arg-type]
        self._compile: Callable[[str], CompiledSearch] = functools.lru_cache(COMPILED_CACHE)(
            search.compile)

    # ------------------------------------------------------------------ SQL functions
    def compiled(self, query: str | None) -> CompiledSearch | None:
        """The compiled query (cached), or None when it cannot be understood."""
        if not query or not query.strip():
            return None
        try:
            return self._compile(query.strip())
        except ValueError:  # RuleSyntaxError, or region: naming no place
            return None

    def sql_fts(self, query: str | None) -> str | None:
        """chanwatch_fts(q): the FTS5 expression (None: no word constraint, or not a query)."""
        compiled = self.compiled(query)
        return compiled.fts.match if compiled is not None else None

    def sql_match(self, text: str | None, channel: str | None, query: str | None) -> int:
        """chanwatch_match(text, channel username, q): 1 if the rule's matcher accepts."""
        compiled = self.compiled(query)
        if compiled is None or text is None:
            return 0
        return 1 if compiled.index.match(text, channel) else 0

    @_hook
    def prepare_connection(self, conn: sqlite3.Connection, database: str) -> None:
        """Register the functions and the authorizer on the archive's connections."""
        if database != self.database:
            return
        conn.create_function("chanwatch_fts", 1, self.sql_fts)
        conn.create_function("chanwatch_match", 3, self.sql_match)
        conn.set_authorizer(authorize)

    # ------------------------------------------------------------------ the search box
    # trylast: Datasette's own search filter runs first and says "no FTS table here" (the
    # index is contentless); this one's extra context must win
    @_hook_last
    def filters_from_request(self, request: Any, database: str, table: str,
                             ) -> FilterArguments | None:
        """``?_search=`` on posts: the rule language, as /search reads it."""
        if database != self.database or table != "posts":
            return None
        text = (request.args.get("_search") or "").strip()
        context = {"supports_search": True, "search": text}
        if not text:
            return FilterArguments([], extra_context=context)
        return self.search_filter(text, context)

    def search_filter(self, text: str, context: dict[str, Any]) -> FilterArguments:
        """The WHERE clauses and parameters for one search (BadRequest: one clear line)."""
        try:
            rest, since, until = split_window(text, self._clock.now(), self._tz)
            compiled = self._compile(rest)
        except RuleSyntaxError as exc:
            raise BadRequest(f"cannot understand the query: {exc.message}"
                             f" (at character {exc.position + 1})") from None
        except (WindowError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        where: list[str] = []
        params: dict[str, Any] = {}
        fts = compiled.fts
        if fts.match is not None:
            where.append(queries.SEARCH_CANDIDATES)
            params["chanwatch_fts"] = fts.match
        if fts.channels:
            where.append(queries.search_channels(len(fts.channels)))
            params.update({f"chanwatch_channel{i}": c for i, c in enumerate(fts.channels)})
        for clause, key, moment in ((queries.SEARCH_SINCE, "chanwatch_since", since),
                                    (queries.SEARCH_UNTIL, "chanwatch_until", until)):
            if moment is not None:
                where.append(clause)
                params[key] = to_iso(moment)
        if not fts.exact:  # FTS5 found candidates: the matcher decides
            where.append(queries.SEARCH_CONFIRM)
            params["chanwatch_q"] = rest
        return FilterArguments(where, params, [f"match {_window_text(rest, since, until)}"],
                               context)


def _window_text(query: str, since: dt.datetime | None, until: dt.datetime | None) -> str:
    out = f'"{query}"'
    if since is not None:
        out += f" since {to_iso(since)}"
    if until is not None:
        out += f" until {to_iso(until)}"
    return out

