-- Beyond the account: channels read through their web preview, webhooks, translated alerts.

-- channels.source ('live' | 'preview') exists since 0001: a preview channel is polled over
-- HTTP (bot/preview/) and has a synthetic negative id (its page shows no numeric id).

-- Webhooks: alerts of a chat's rules are also POSTed here, through the outbox.
CREATE TABLE webhooks (
    id           INTEGER PRIMARY KEY,
    chat_id      INTEGER REFERENCES chats (id),  -- NULL: the operator's WEBHOOK_URL (every alert)
    number       INTEGER NOT NULL,               -- per chat, shown by /webhook list; never reused
    url          TEXT    NOT NULL,
    format       TEXT    NOT NULL DEFAULT 'json'
                 CHECK (format IN ('json', 'slack', 'discord', 'ntfy')),
    status       TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'dead', 'deleted')),
    last_error   TEXT,
    created_by   INTEGER,
    created_at   TEXT    NOT NULL
);
CREATE UNIQUE INDEX webhooks_number ON webhooks (COALESCE(chat_id, 0), number);

-- A webhook delivery is an outbox row of kind 'webhook' whose payload is the JSON event
-- (format-neutral; shaped for slack/discord/ntfy when sent). Each webhook is its own lane:
-- a failing endpoint never holds back the chat's Telegram messages.
ALTER TABLE outbox ADD COLUMN webhook_id INTEGER REFERENCES webhooks (id);

-- /translate <lang>: alerts to this chat carry a translation of the post's text.
ALTER TABLE chats ADD COLUMN translate_lang TEXT;

-- One translation per post and language (a post edited since gets a new one: source_hash).
CREATE TABLE translations (
    post_id      INTEGER NOT NULL REFERENCES posts (id),
    lang         TEXT    NOT NULL,
    source_hash  TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (post_id, lang)
);
