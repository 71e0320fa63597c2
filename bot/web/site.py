"""The web view assembled: Datasette over the archive, configured rather than programmed.

Everything a visitor sees comes from Datasette's own pages, set up here: metadata (titles,
descriptions, the posts table's facets and default order, the canned queries), settings (no
database download, time limits) and the plugin (bot/web/plugin.py). The database is added
*mutable*, which Datasette opens ``mode=ro`` and re-reads as the service writes to it; the
immutable mode would assume the file never changes, wrong for a live WAL database.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
from pathlib import Path
from types import FrameType
from typing import Any

from bot.web import queries
from bot.web.auth import ASGIApp, PasswordGate, ReadOnlyGate
from bot.web.plugin import ChanwatchPlugin, readable

DATABASE = "archive"  # the database's name in the URLs: /archive/posts
PLUGIN_NAME = "chanwatch"

SETTINGS: dict[str, Any] = {
    "allow_download": False,  # the file holds the service's private tables too
    "suggest_facets": False,  # a facet suggestion scans the whole table: slow at 1M posts
    "default_page_size": 50,
    "max_returned_rows": 1000,
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 1000,
    "default_cache_ttl": 0,  # the archive grows while it is viewed
}


class SchemaError(Exception):
    """The file is not a chanwatch database with the archive (migration 0007)."""


def table_names(path: Path) -> list[str]:
    """The database's tables, read through a read-only connection."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [str(r[0]) for r in conn.execute(queries.TABLE_NAMES)]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"cannot read {path} as a SQLite database: {exc}") from None
    if "posts" not in names:
        raise SchemaError(f"{path} is not a chanwatch database (no posts table)")
    if not set(queries.FTS_TABLES) <= set(names):
        raise SchemaError(f"{path} is not migrated to this version yet: run `chanwatch migrate`"
                          " (or start the service) once")
    return names


def metadata(tables: list[str]) -> dict[str, Any]:
    """Datasette metadata: titles, the posts table's facets, the canned queries."""
    table_meta: dict[str, Any] = {
        "posts": {
            "description": "Every post chanwatch stored. The search box takes the rule"
                           " language (words in any form, \"phrases\", prefix*, AND/OR/NOT,"
                           " NEAR/n(…), channel:@x, region:x, lang:xx; a post's pictures'"
                           " text counts too) and an optional"
                           " trailing 'since 7d' / 'until 2026-11-05'.",
            "sort_desc": "date",
            "facets": ["channel_id", {"date": "date"}, "regions"],
        },
        "channels": {"label_column": "title",
                     "description": "The channels read; posts.channel_id shows their titles."},
        "post_versions": {"description": "Earlier texts of edited posts (the current text is"
                                         " in posts.text)."},
        "post_stats": {"description": "Views, forwards and reactions at each re-read."},
        "matches": {"description": "Which rule matched which post."},
        "rules": {"description": "The rules of every chat (chat_id, number as /rules shows)."},
        "media": {"description": "Each stored file once (sha256: its name under"
                                 " $DATA_DIR/media), with size, type, dimensions, perceptual"
                                 " hash."},
        "post_media": {"description": "The files of each post (albums: every part), their"
                                      " download state and sha256."},
        "media_text": {"description": "The text OCR read in each stored picture (search"
                                      " finds posts by it too)."},
    }
    for name in tables:
        if name.startswith(queries.FTS_TABLES):
            table_meta[name] = {"hidden": True}  # terms are lemma keys: use the search box
        elif not readable(name):
            table_meta[name] = {"hidden": True, "allow": False}
    return {
        "title": "chanwatch archive",
        "description": "The posts chanwatch collected, read-only. Search the posts table"
                       " with the rule language, or use the queries below; every page has"
                       " CSV and JSON links.",
        "databases": {DATABASE: {"tables": table_meta, "queries": CANNED}},
    }


CANNED: dict[str, dict[str, Any]] = {
    "search": {
        "title": "Search (rule language)",
        "description": "Posts the query matches, as /search finds them, newest first (500 at"
                       " most; the posts table's search box pages through all and adds"
                       " facets). An unreadable query finds nothing.",
        "sql": queries.CANNED_SEARCH,
    },
    "rule_matches": {
        "title": "Matches of a rule",
        "description": "The posts a chat's rule matched: the chat id and the rule's number"
                       " as /rules lists it.",
        "sql": queries.CANNED_RULE_MATCHES,
    },
    "deleted_posts": {
        "title": "Deleted posts",
        "description": "Posts their channel deleted, with the text chanwatch kept.",
        "sql": queries.CANNED_DELETED,
    },
    "edits": {
        "title": "Edits, every version",
        "description": "Each edited post with every text it has had, the original first.",
        "sql": queries.CANNED_EDITS,
    },
}


def build_app(path: Path, plugin: ChanwatchPlugin, password: str | None) -> tuple[Any, ASGIApp]:
    """(the Datasette instance, the ASGI app to serve: GET/HEAD only, the password if set)."""
    from datasette.app import Datasette
    from datasette.database import Database as DatasetteDatabase
    from datasette.plugins import pm

    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(plugin, name=PLUGIN_NAME)
    ds = Datasette(metadata=metadata(table_names(path)), settings=SETTINGS)
    ds.add_database(DatasetteDatabase(ds, path=str(path), is_mutable=True), name=DATABASE)
    app: ASGIApp = ReadOnlyGate(ds.app())
    return ds, (PasswordGate(app, password) if password else app)


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket (OSError: the address is taken or not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(ds: Any, app: ASGIApp, sock: socket.socket) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles both and finishes requests in flight)."""
    import uvicorn

    await ds.invoke_startup()
    # log_level warning: no access log (paths carry search text; never the password)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again under the handlers it
    # found: quiet ones make that a clean exit 0 (no KeyboardInterrupt, no death by signal)
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(_sig: int, _frame: FrameType | None) -> None:
    """The signal uvicorn re-raises after its graceful stop: nothing left to do."""
