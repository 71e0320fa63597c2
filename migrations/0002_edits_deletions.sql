-- Never miss a post: edit history, where a post came from, deletion notices per rule.

-- Every earlier text of an edited post (the current text stays in posts.text).
CREATE TABLE post_versions (
    id           INTEGER PRIMARY KEY,
    post_id      INTEGER NOT NULL REFERENCES posts (id),
    text         TEXT    NOT NULL,
    edit_date    TEXT,              -- when that earlier text was written (NULL: the original)
    replaced_at  TEXT    NOT NULL   -- when chanwatch saw it replaced
);
CREATE INDEX post_versions_post ON post_versions (post_id);

-- live | reconcile | backfill: how the post reached the store (late posts come by reconcile)
ALTER TABLE posts ADD COLUMN source TEXT NOT NULL DEFAULT 'live';

-- 1: tell the chat when a post this rule alerted on is deleted
ALTER TABLE rules ADD COLUMN notify_deleted INTEGER NOT NULL DEFAULT 0;

CREATE INDEX posts_channel_date ON posts (channel_id, date);
