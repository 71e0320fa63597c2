-- Retention (RETENTION_DAYS, bot/services/retention.py): the text, earlier versions, picture
-- text and media files of posts older than that are dropped; their ids, dates, channel,
-- engagement numbers, matches and regions stay, so counts and /stats still add up.

-- When retention dropped the post's text and its earlier versions (NULL: kept).
ALTER TABLE posts ADD COLUMN text_dropped_at TEXT;
CREATE INDEX posts_text_kept ON posts (date) WHERE text_dropped_at IS NULL;

-- post_media gains the state 'expired' (its file was deleted by retention). SQLite cannot
-- change a CHECK: the table is rebuilt with the same columns, rows and indexes.
CREATE TABLE post_media_new (
    post_id      INTEGER NOT NULL REFERENCES posts (id),
    file_id      INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    mime         TEXT    NOT NULL,
    size         INTEGER,
    width        INTEGER,
    height       INTEGER,
    duration     REAL,
    file_name    TEXT,
    post_date    TEXT    NOT NULL,
    ref          BLOB,
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'stored', 'too_large', 'quota', 'gone', 'failed',
                                  'expired')),
    sha256       TEXT    REFERENCES media (sha256),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_at  TEXT,
    last_error   TEXT,
    queued_at    TEXT    NOT NULL,
    done_at      TEXT,
    ocr          TEXT CHECK (ocr IN ('pending', 'done')),
    PRIMARY KEY (post_id, file_id)
) WITHOUT ROWID;
INSERT INTO post_media_new (post_id, file_id, kind, mime, size, width, height, duration,
                            file_name, post_date, ref, state, sha256, attempts, next_try_at,
                            last_error, queued_at, done_at, ocr)
    SELECT post_id, file_id, kind, mime, size, width, height, duration, file_name, post_date,
           ref, state, sha256, attempts, next_try_at, last_error, queued_at, done_at, ocr
    FROM post_media;
DROP TABLE post_media;
ALTER TABLE post_media_new RENAME TO post_media;
CREATE INDEX post_media_queue ON post_media (post_date DESC, post_id DESC, file_id)
    WHERE state = 'pending';
CREATE INDEX post_media_sha256 ON post_media (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX post_media_ocr ON post_media (post_date DESC, post_id DESC, file_id)
    WHERE ocr = 'pending';
CREATE INDEX post_media_file ON post_media (file_id);
