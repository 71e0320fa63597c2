-- Alerts with the picture: /media on sends a chat's alerts as the post's photo (the album's
-- first photo) with the alert as its caption; and "also in" by the same file.
ALTER TABLE chats ADD COLUMN media_alerts INTEGER NOT NULL DEFAULT 0
    CHECK (media_alerts IN (0, 1));

-- How an alert went out: NULL as text, 'photo' as a photo with the alert as its caption (then
-- message_id is the photo's when the alert fitted the caption, else the last text part's). An
-- "also in" edit of it changes that message's caption or text accordingly.
ALTER TABLE outbox ADD COLUMN sent_as TEXT CHECK (sent_as IN ('photo'));

-- A copy-repost (sent anew, not forwarded) carries the very file of the original, by
-- Telegram's id: found at ingest, before any download ("also in", bot/store/outbox.py).
CREATE INDEX post_media_file ON post_media (file_id);
