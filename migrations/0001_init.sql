-- chanwatch schema, first cut. Append-only: change the schema with a new numbered file.
-- Times are UTC ISO-8601 text (bot/clock.py: to_iso / from_iso).

-- Channels read by the user account. id is the bare channel id (as in PeerChannel / t.me/c/<id>).
CREATE TABLE channels (
    id           INTEGER PRIMARY KEY,
    username     TEXT,
    title        TEXT    NOT NULL,
    access_hash  INTEGER,
    source       TEXT    NOT NULL DEFAULT 'live' CHECK (source IN ('live', 'preview')),
    -- highest message id stored for this channel; the reconciler fetches what lies above it
    cursor       INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'unwatched', 'private', 'banned', 'deleted', 'error')),
    last_error   TEXT,
    added_by     INTEGER,
    added_at     TEXT    NOT NULL
);
CREATE INDEX channels_username ON channels (lower(username));

CREATE TABLE posts (
    id           INTEGER PRIMARY KEY,
    channel_id   INTEGER NOT NULL REFERENCES channels (id),
    message_id   INTEGER NOT NULL,
    date         TEXT    NOT NULL,
    edit_date    TEXT,
    text         TEXT    NOT NULL DEFAULT '',
    views        INTEGER,
    forwards     INTEGER,
    fwd_from     TEXT,
    reply_to     INTEGER,
    grouped_id   INTEGER,
    media        TEXT,
    permalink    TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    deleted_at   TEXT,
    UNIQUE (channel_id, message_id)
);
CREATE INDEX posts_date ON posts (date);

-- Subscriber chats of the bot: private chats (id = user id) and groups (Telethon's marked id).
CREATE TABLE chats (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('private', 'group', 'channel')),
    title        TEXT,
    tz           TEXT,   -- NULL: the instance's TIMEZONE
    status       TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'dead')),
    created_at   TEXT    NOT NULL
);

-- People granted rights with /allow. Admins from ADMIN_IDS are not stored: the setting wins.
CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    granted_by   INTEGER,
    granted_at   TEXT    NOT NULL
);

CREATE TABLE rules (
    id           INTEGER PRIMARY KEY,
    chat_id      INTEGER NOT NULL REFERENCES chats (id),
    number       INTEGER NOT NULL,  -- per-chat number shown to people; never reused
    expression   TEXT    NOT NULL,
    mode         TEXT    NOT NULL DEFAULT 'instant' CHECK (mode IN ('instant', 'digest', 'both')),
    muted_until  TEXT,
    created_by   INTEGER,
    created_at   TEXT    NOT NULL,
    deleted_at   TEXT,              -- soft delete keeps the history of matches
    UNIQUE (chat_id, number)
);

CREATE TABLE matches (
    id           INTEGER PRIMARY KEY,
    rule_id      INTEGER NOT NULL REFERENCES rules (id),
    post_id      INTEGER NOT NULL REFERENCES posts (id),
    spans        TEXT    NOT NULL,  -- JSON [[start, end], ...] character offsets into posts.text
    created_at   TEXT    NOT NULL,
    UNIQUE (rule_id, post_id)
);
CREATE INDEX matches_post ON matches (post_id);

-- Every message the bot sends on its own initiative. random_id is persisted so that a resend
-- after a crash is recognised by Telegram as the same message.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL REFERENCES chats (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('alert', 'notice', 'digest')),
    post_id         INTEGER REFERENCES posts (id),
    payload         TEXT    NOT NULL,  -- HTML, everything from posts escaped
    random_id       INTEGER NOT NULL,
    dedup_key       TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    error           TEXT,
    UNIQUE (chat_id, dedup_key)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
