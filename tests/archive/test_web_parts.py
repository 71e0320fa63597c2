"""The web view's parts without a server: the password header, loopback, the authorizer."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli_tools.web import INSTALL_HINT, is_loopback
from bot.web.auth import offered_password
from bot.web.plugin import authorize
from bot.web.site import SchemaError, metadata, table_names


def basic(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


@pytest.mark.parametrize(("header", "password"), [
    (basic(b"anyone:s3cret"), b"s3cret"),
    (basic(b":s3cret"), b"s3cret"),
    (basic(b"user:with:colons"), b"with:colons"),
    (b"bearer s3cret", b"s3cret"),
    (b"Bearer   s3cret  ", b"s3cret"),
    (basic(b"no colon"), None),
    (b"Basic %%%not-base64", None),
    (b"Digest username=x", None),
    (b"", None),
])
def test_the_password_a_header_offers(header: bytes, password: bytes | None) -> None:
    assert offered_password(header) == password


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LocalHost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.org", False),
    ("localhost.example.org", False),
])
def test_which_hosts_are_this_machine_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture
def writable(tmp_path: Path) -> sqlite3.Connection:
    """A read-WRITE connection with the authorizer: it alone must refuse the writes."""
    conn = sqlite3.connect(tmp_path / "x.sqlite3")
    conn.executescript("CREATE TABLE posts (id INTEGER PRIMARY KEY, text TEXT);"
                       "INSERT INTO posts VALUES (1, 'a');"
                       "CREATE TABLE webhooks (id INTEGER PRIMARY KEY, url TEXT);"
                       "INSERT INTO webhooks VALUES (1, 'https://hooks.example/secret');")
    conn.set_authorizer(authorize)
    return conn


@pytest.mark.parametrize("sql", [
    "DELETE FROM posts", "UPDATE posts SET text = 'b'", "INSERT INTO posts VALUES (2, 'c')",
    "DROP TABLE posts", "CREATE TABLE t (x)", "CREATE TEMP TABLE t (x)",
    "ALTER TABLE posts ADD COLUMN y", "ATTACH ':memory:' AS other",
    "PRAGMA writable_schema = 1", "PRAGMA journal_mode = DELETE", "SELECT url FROM webhooks",
])
def test_the_authorizer_refuses_writes_and_private_tables(writable: sqlite3.Connection,
                                                          sql: str) -> None:
    with pytest.raises(sqlite3.DatabaseError, match=r"not authorized|prohibited"):
        writable.execute(sql)
    writable.set_authorizer(None)
    assert writable.execute("SELECT id, text FROM posts").fetchall() == [(1, "a")]


def test_the_authorizer_lets_the_archive_be_read(writable: sqlite3.Connection) -> None:
    assert writable.execute("SELECT text FROM posts").fetchall() == [("a",)]
    assert writable.execute("SELECT COUNT(*) FROM webhooks").fetchone() == (1,)  # no content
    assert writable.execute("SELECT name FROM pragma_table_info('posts')").fetchall()


def test_private_tables_are_hidden_and_refused_in_the_metadata() -> None:
    tables = metadata(["chats", "posts", "posts_fts", "posts_fts_data", "webhooks"])
    meta = tables["databases"]["archive"]["tables"]
    assert meta["webhooks"] == {"hidden": True, "allow": False}
    assert meta["chats"] == {"hidden": True, "allow": False}
    assert meta["posts_fts_data"] == {"hidden": True}
    assert "allow" not in meta["posts"]


def test_a_database_without_the_archive_index_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(SchemaError, match="chanwatch migrate"):
        table_names(old)


def test_without_datasette_the_tool_says_how_to_install_it(tmp_path: Path) -> None:
    # sys.modules[name] = None: the import system treats datasette as not installed
    script = ("import os, sys; sys.modules['datasette'] = None; from bot.cli import main;"
              " sys.exit(main(['--env-file', os.devnull, 'web']))")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 2
    assert done.stderr.strip() == f"chanwatch: {INSTALL_HINT}"
