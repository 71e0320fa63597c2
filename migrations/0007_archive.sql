-- The archive, opened: full-text search, engagement snapshots, search paging.

-- Full-text index over each text a post has had. One document per text: rowid = post id for
-- the text first stored, post id + (n << 40) for the text after its n-th edit, so edits add a
-- document and nothing is ever deleted from the index (contentless FTS5 cannot delete without
-- the original values, and an index of every version finds text a channel edited away).
-- ``terms`` are the tokens' lemma keys and normalised forms (bot/archive/terms.py), plus
-- ``p_<place id>`` for every place the text names and every place it lies in, so
-- ``region:belgorod`` is one term. detail=none: no positions (phrases and NEAR are confirmed
-- by the matcher), a third of the size of a full index.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    terms, content = '', detail = 'none',
    tokenize = "unicode61 remove_diacritics 0 tokenchars '''-_'"
);

-- How many times the text was edited: the index document of the current text has rowid
-- id + (text_version << 40), so searches confirm against the current text only.
ALTER TABLE posts ADD COLUMN text_version INTEGER NOT NULL DEFAULT 0;
UPDATE posts SET text_version = (SELECT COUNT(*) FROM post_versions v WHERE v.post_id = posts.id);

-- ISO codes of the first-level regions a post names, space-separated (stats, export).
ALTER TABLE posts ADD COLUMN regions TEXT;
-- Reactions as last read (sum over all reactions); views and forwards exist since 0001.
ALTER TABLE posts ADD COLUMN reactions INTEGER;

-- Posts stored before this migration are indexed by a background task (bot/archive/indexer):
-- it indexes ids in (next, upto] in batches and moves next; posts stored from now on are
-- indexed in the transaction that stores them.
CREATE TABLE archive_index (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    next  INTEGER NOT NULL,
    upto  INTEGER NOT NULL
);
INSERT INTO archive_index (id, next, upto) VALUES (1, 0, COALESCE((SELECT MAX(id) FROM posts), 0));

-- Engagement over time: each periodic re-read of a recent post records what it showed.
CREATE TABLE post_stats (
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    at         TEXT    NOT NULL,
    views      INTEGER,
    forwards   INTEGER,
    reactions  INTEGER,
    PRIMARY KEY (post_id, at)
) WITHOUT ROWID;

-- A /search whose "More ▸" button may be pressed later (after a restart too).
CREATE TABLE searches (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    query       TEXT    NOT NULL,
    since       TEXT,
    until       TEXT,
    created_at  TEXT    NOT NULL
);
