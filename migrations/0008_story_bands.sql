-- Cross-channel dedup by index lookup instead of a scan of the chat's recent alerts.

-- "Was this chat alerted on the same story from another channel within the window?" used to
-- compare the new post's fingerprint with the fingerprint of every alert of the chat in the
-- window (a Python function call per row). Now each alert is filed under the 16 bands of its
-- post's fingerprint (LSH banding, bot/match/dedup.py ``bands``: band n is bytes 8n..8n+7 of
-- the signature, its slots 2n and 2n+1): two fingerprints similar enough to be the same story
-- always share a whole band, so looking up the new post's 16 bands finds every candidate, and
-- the similarity check confirms them as before (bot/store/outbox.py ``_EARLIER_ALERT``).
--
-- One row per (alert, band), keyed by the chat first and the alert's time last: a lookup reads
-- only that chat's alerts inside the window that share a band value, however long the
-- archive (posts repeating a template every day share bands with all their predecessors).
-- The value is the band's bytes themselves (a BLOB that substr() cuts from the fingerprint in
-- SQL exactly as Python slices it: nothing to overflow, nothing to keep in step).
-- created_at is the alert's (outbox.created_at, set once): rows older than the dedup window are
-- never read again; they are kept (about 1 kB per alert) so that a longer window still finds
-- its alerts.
CREATE TABLE story_bands (
    chat_id     INTEGER NOT NULL,
    band        INTEGER NOT NULL,  -- 0..15
    value       BLOB    NOT NULL,  -- substr(fingerprint, 1 + 8 * band, 8)
    created_at  TEXT    NOT NULL,  -- the alert's outbox.created_at
    alert_id    INTEGER NOT NULL,  -- outbox.id of the alert
    PRIMARY KEY (chat_id, band, value, created_at, alert_id)
) WITHOUT ROWID;

-- A post's alerts: the "same story" branch (posts_story -> outbox), and the trigger below that
-- files a post's existing alerts when it gets its fingerprint later (an edit).
CREATE INDEX outbox_alert_post ON outbox (post_id, chat_id) WHERE kind = 'alert';

-- The rows are kept by triggers, in the transaction that writes the alert or the fingerprint,
-- whoever writes them: an alert is filed under its post's bands when it is queued (the post
-- row, with its fingerprint, is always stored first); a post whose fingerprint is set or
-- changed later (bot/store/posts.py save_edit) has its alerts refiled. Posts are never
-- deleted (an alert's post is a foreign key); a deleted alert takes its rows along. Only
-- 128-byte fingerprints (32 slots) are filed: similarity() is NULL for any other length.
CREATE TRIGGER story_bands_alert AFTER INSERT ON outbox
WHEN NEW.kind = 'alert' AND NEW.post_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO story_bands (chat_id, band, value, created_at, alert_id)
        SELECT NEW.chat_id, n.column1, substr(p.fingerprint, 1 + 8 * n.column1, 8),
               NEW.created_at, NEW.id
        FROM posts p, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11),
                              (12), (13), (14), (15)) n
        WHERE p.id = NEW.post_id AND length(p.fingerprint) = 128;
END;

CREATE TRIGGER story_bands_fingerprint AFTER UPDATE OF fingerprint ON posts
WHEN NEW.fingerprint IS NOT OLD.fingerprint
BEGIN
    DELETE FROM story_bands WHERE (chat_id, band, value, created_at, alert_id) IN (
        SELECT o.chat_id, n.column1, substr(OLD.fingerprint, 1 + 8 * n.column1, 8),
               o.created_at, o.id
        FROM outbox o, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11),
                               (12), (13), (14), (15)) n
        WHERE o.post_id = OLD.id AND o.kind = 'alert' AND length(OLD.fingerprint) = 128);
    INSERT OR IGNORE INTO story_bands (chat_id, band, value, created_at, alert_id)
        SELECT o.chat_id, n.column1, substr(NEW.fingerprint, 1 + 8 * n.column1, 8),
               o.created_at, o.id
        FROM outbox o, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11),
                               (12), (13), (14), (15)) n
        WHERE o.post_id = NEW.id AND o.kind = 'alert' AND length(NEW.fingerprint) = 128;
END;

CREATE TRIGGER story_bands_alert_deleted AFTER DELETE ON outbox
WHEN OLD.kind = 'alert' AND OLD.post_id IS NOT NULL
BEGIN
    DELETE FROM story_bands WHERE (chat_id, band, value, created_at, alert_id) IN (
        SELECT OLD.chat_id, n.column1, substr(p.fingerprint, 1 + 8 * n.column1, 8),
               OLD.created_at, OLD.id
        FROM posts p, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11),
                              (12), (13), (14), (15)) n
        WHERE p.id = OLD.post_id AND length(p.fingerprint) = 128);
END;

-- The alerts queued before this migration.
INSERT OR IGNORE INTO story_bands (chat_id, band, value, created_at, alert_id)
    SELECT o.chat_id, n.column1, substr(p.fingerprint, 1 + 8 * n.column1, 8), o.created_at, o.id
    FROM outbox o JOIN posts p ON p.id = o.post_id,
         (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14),
                 (15)) n
    WHERE o.kind = 'alert' AND length(p.fingerprint) = 128;
