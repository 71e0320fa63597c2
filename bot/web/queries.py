"""The web view's SQL: the canned queries, the search filter's clauses, the schema check.

Datasette runs these on its own read-only connections (``mode=ro``), so they live here, with
the view, rather than in a repository of bot/store. Nothing typed by a user is formatted into
them: the rule-language query reaches SQLite as a bound parameter, and FTS5 only ever sees
what ``chanwatch_fts`` compiled from it (bot/archive/fts.py: every term quoted).

SQL functions the plugin registers (bot/web/plugin.py):
    chanwatch_fts(q)                  the FTS5 expression for a rule-language query, or NULL
                                      when the query constrains no word (then every post is
                                      a candidate) or cannot be understood
    chanwatch_match(text, channel, q) 1 if the matcher accepts the text, as /alert would
"""

from __future__ import annotations

from bot.store.posts import FTS_POST_MASK, FTS_VERSION_SHIFT

# Tables a visitor may read. Everything else (subscriber chats, users, the outbox, webhook
# URLs, saved searches, translations, bookkeeping) is the service's own and is refused by the
# connection's authorizer, whatever SQL is typed. The FTS5 shadow tables must stay readable
# for MATCH to work; they are only hidden.
ARCHIVE_TABLES = ("posts", "channels", "post_versions", "post_stats", "matches", "rules",
                  "media", "post_media", "media_text")
FTS_TABLE = "posts_fts"
FTS_TABLES = (FTS_TABLE, "image_fts")  # a post's text; the text OCR read in its pictures

# the tables of a database, for the metadata (hidden or refused) and the schema check
TABLE_NAMES = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"


def image_text(post: str) -> str:
    """The text OCR read in the pictures of the post aliased ``post`` (NULL: none)."""
    return ("(SELECT group_concat(t.text, char(10)) FROM post_media pm JOIN media_text t"
            f" ON t.sha256 = pm.sha256 WHERE pm.post_id = {post}.id AND pm.ocr = 'done'"
            " AND t.text != '')")


# Posts whose *current* text the FTS5 expression finds (each edit adds a document; only the
# one whose version is the post's text_version counts), or the text in one of whose pictures
# it finds. For the table search on ``posts``.
SEARCH_CANDIDATES = (
    f"(posts.id IN (SELECT f.rowid & {FTS_POST_MASK} FROM posts_fts f"
    f" JOIN posts v ON v.id = (f.rowid & {FTS_POST_MASK})"
    f" AND v.text_version = (f.rowid >> {FTS_VERSION_SHIFT})"
    " WHERE posts_fts MATCH :chanwatch_fts)"
    " OR posts.id IN (SELECT rowid FROM image_fts WHERE image_fts MATCH :chanwatch_fts))"
)
_CHANNEL = "(SELECT c.username FROM channels c WHERE c.id = posts.channel_id)"
SEARCH_CONFIRM = (
    f"(chanwatch_match(posts.text, {_CHANNEL}, :chanwatch_q)"
    f" OR chanwatch_match({image_text('posts')}, {_CHANNEL}, :chanwatch_q))"
)
SEARCH_SINCE = "posts.date >= :chanwatch_since"
SEARCH_UNTIL = "posts.date < :chanwatch_until"


def search_channels(count: int) -> str:
    """The clause for ``channel:`` filters: params :chanwatch_channel0 … (lower case)."""
    marks = ", ".join(f":chanwatch_channel{i}" for i in range(count))
    return (f"posts.channel_id IN (SELECT c.id FROM channels c"
            f" WHERE lower(c.username) IN ({marks}))")


# The canned query "search": the same language as /search, newest first. Candidates come from
# FTS5 when the query names words (the post's current text or its pictures' text), from every
# post otherwise (a constant condition: SQLite evaluates it once, so only one branch runs);
# the matcher confirms each, on the post's text or on its pictures'.
CANNED_SEARCH = f"""
WITH candidates (id) AS (
  SELECT f.rowid & {FTS_POST_MASK} FROM posts_fts f
  JOIN posts v ON v.id = (f.rowid & {FTS_POST_MASK})
   AND v.text_version = (f.rowid >> {FTS_VERSION_SHIFT})
  WHERE chanwatch_fts(:q) IS NOT NULL AND posts_fts MATCH coalesce(chanwatch_fts(:q), '""')
  UNION
  SELECT rowid FROM image_fts
  WHERE chanwatch_fts(:q) IS NOT NULL AND image_fts MATCH coalesce(chanwatch_fts(:q), '""')
  UNION
  SELECT id FROM posts WHERE chanwatch_fts(:q) IS NULL
)
SELECT p.id, c.title AS channel, p.date, p.text, p.permalink, p.text_version AS edits,
       p.deleted_at, p.regions, p.views, p.forwards, p.image_text
FROM candidates k
JOIN (SELECT posts.*, {image_text('posts')} AS image_text FROM posts) p ON p.id = k.id
JOIN channels c ON c.id = p.channel_id
WHERE chanwatch_match(p.text, c.username, :q) OR chanwatch_match(p.image_text, c.username, :q)
ORDER BY p.date DESC, p.id DESC
LIMIT 500
""".strip()

CANNED_RULE_MATCHES = """
SELECT m.created_at AS matched_at, r.expression AS rule, c.title AS channel, p.date,
       p.text, p.permalink, p.deleted_at, m.post_id
FROM rules r
JOIN matches m ON m.rule_id = r.id
JOIN posts p ON p.id = m.post_id
LEFT JOIN channels c ON c.id = p.channel_id
WHERE r.chat_id = :chat_id AND r.number = :rule
ORDER BY p.date DESC, p.id DESC
""".strip()

CANNED_DELETED = """
SELECT p.deleted_at, c.title AS channel, p.date, p.text, p.permalink, p.text_version AS edits,
       p.id
FROM posts p
LEFT JOIN channels c ON c.id = p.channel_id
WHERE p.deleted_at IS NOT NULL
ORDER BY p.deleted_at DESC, p.id DESC
""".strip()

# Every text an edited post has had: the earlier ones (post_versions, oldest first: version
# 0 is the original) and the current one (version = text_version).
CANNED_EDITS = """
SELECT p.id AS post, c.title AS channel, p.permalink, t.version,
       COALESCE(t.written_at, p.date) AS written_at, t.replaced_at, t.text
FROM (
  SELECT v.post_id, ROW_NUMBER() OVER (PARTITION BY v.post_id ORDER BY v.id) - 1 AS version,
         v.edit_date AS written_at, v.replaced_at, v.text
  FROM post_versions v
  UNION ALL
  SELECT id, text_version, edit_date, NULL, text
  FROM posts WHERE text_version > 0
) t
JOIN posts p ON p.id = t.post_id
LEFT JOIN channels c ON c.id = p.channel_id
ORDER BY p.date DESC, p.id DESC, t.version
""".strip()
