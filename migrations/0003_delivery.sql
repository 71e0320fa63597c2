-- Delivery you can trust: digests, quiet hours, mute, cross-channel dedup, buttons, edits.

-- Per-chat delivery settings. Times of day are minutes after local midnight in the chat's tz.
ALTER TABLE chats ADD COLUMN quiet_start INTEGER;   -- NULL: no quiet hours
ALTER TABLE chats ADD COLUMN quiet_end   INTEGER;
ALTER TABLE chats ADD COLUMN digest_cron TEXT;      -- crontab "m h dom mon dow"; NULL: no digest
ALTER TABLE chats ADD COLUMN digest_since TEXT;     -- end of the last digest's period (UTC)

-- Story identity for "also in @a, @b": the forward origin (or the post itself) and a MinHash
-- signature of the normalised text's word shingles (bot/match/dedup.py), set for alerted posts.
ALTER TABLE posts ADD COLUMN story TEXT;
ALTER TABLE posts ADD COLUMN fingerprint BLOB;
CREATE INDEX posts_story ON posts (story);

-- The outbox gains kinds and states, so it is rebuilt (SQLite cannot alter a CHECK).
--   held:   an instant alert waiting for the end of the chat's quiet hours (next_attempt_at)
--   folded: a held alert delivered inside the one message sent when the quiet hours ended
--   edit:   an edit of an already sent message (ref_id), e.g. the "also in" line
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL REFERENCES chats (id),
    kind            TEXT    NOT NULL
                    CHECK (kind IN ('alert', 'notice', 'digest', 'edit', 'fold', 'webhook')),
    post_id         INTEGER REFERENCES posts (id),
    payload         TEXT    NOT NULL,  -- HTML, everything from posts escaped
    summary         TEXT,              -- one-line HTML of an alert, used when folding
    buttons         TEXT,              -- JSON [[{"text", "data"|"url"}, ...], ...]
    attachment      BLOB,              -- a PNG sent after the text (digest chart)
    also            TEXT,              -- JSON ["<a href=…>@name</a>", ...]: same story elsewhere
    ref_id          INTEGER,           -- for kind 'edit': the outbox row whose message to edit
    message_id      INTEGER,           -- Telegram id of the (last part of the) sent message
    random_id       INTEGER NOT NULL,
    dedup_key       TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'dead', 'held', 'folded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    error           TEXT,
    UNIQUE (chat_id, dedup_key)
);
INSERT INTO outbox_new (id, chat_id, kind, post_id, payload, random_id, dedup_key, status,
                        attempts, next_attempt_at, created_at, sent_at, error)
    SELECT id, chat_id, kind, post_id, payload, random_id, dedup_key, status, attempts,
           next_attempt_at, created_at, sent_at, error FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_chat_alerts ON outbox (chat_id, kind, created_at);
