-- Media kept: the photos and documents posts carry, downloaded and stored by content.
--
-- Every photo or document a stored post carries gets a post_media row in the transaction that
-- stores the post (or its edit): the queue of the downloader (bot/media/downloader.py), which
-- runs in a task of its own, so ingestion and alerts never wait for a download, and a restart
-- finds the queue where it was. A row starts 'pending' and ends in one of
--   stored     the file is in $DATA_DIR/media/<sha256[:2]>/<sha256>.<ext>, sha256 names it
--   too_large  a non-photo larger than MEDIA_MAX_MB when it was its turn (re-queued at start)
--   quota      it would have taken the store past MEDIA_MAX_GB (re-queued at start)
--   gone       Telegram no longer has it: the reference expired and the message is deleted
--   failed     MEDIA_ATTEMPTS attempts failed, or Telegram refused it for good (last_error)
-- A row is never deleted, a deleted post keeps its media, and a file is stored once however
-- many posts (albums: one row per part, each part being a message of its own) carry it.
CREATE TABLE media (
    sha256     TEXT    PRIMARY KEY,  -- of the file's bytes, lower-case hex
    size       INTEGER NOT NULL,     -- bytes
    mime       TEXT    NOT NULL,
    ext        TEXT    NOT NULL,     -- the stored file's extension, without the dot
    width      INTEGER,
    height     INTEGER,
    duration   REAL,                 -- seconds (video, voice, audio)
    phash      TEXT,                 -- an image's 64-bit perceptual hash (16 hex digits; NULL:
                                     -- not an image, or unreadable), bot/media/phash.py
    stored_at  TEXT    NOT NULL
);

CREATE TABLE post_media (
    post_id      INTEGER NOT NULL REFERENCES posts (id),
    file_id      INTEGER NOT NULL,   -- Telegram's photo or document id
    kind         TEXT    NOT NULL,   -- photo, video, voice, audio, gif, sticker, document
    mime         TEXT    NOT NULL,
    size         INTEGER,            -- as Telegram announced it, before download
    width        INTEGER,
    height       INTEGER,
    duration     REAL,
    file_name    TEXT,
    post_date    TEXT    NOT NULL,   -- the post's date: the queue is served newest first
    ref          BLOB,               -- the message's media as TL bytes; NULL once it is done
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'stored', 'too_large', 'quota', 'gone', 'failed')),
    sha256       TEXT    REFERENCES media (sha256),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_at  TEXT,               -- NULL: now
    last_error   TEXT,
    queued_at    TEXT    NOT NULL,
    done_at      TEXT,
    PRIMARY KEY (post_id, file_id)
) WITHOUT ROWID;

CREATE INDEX post_media_queue ON post_media (post_date DESC, post_id DESC, file_id)
    WHERE state = 'pending';
CREATE INDEX post_media_sha256 ON post_media (sha256) WHERE sha256 IS NOT NULL;
