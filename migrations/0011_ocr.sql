-- Text in images (OCR): read once per stored picture, searchable and matched per post.

-- What OCR read in one stored picture (media.sha256), with the languages it read it in. An
-- empty text: nothing legible. ``error``: tesseract could not read the file (not retried).
CREATE TABLE media_text (
    sha256   TEXT    PRIMARY KEY REFERENCES media (sha256),
    langs    TEXT    NOT NULL,   -- tesseract's language list, e.g. rus+ukr+eng
    text     TEXT    NOT NULL,
    error    TEXT,
    read_at  TEXT    NOT NULL
) WITHOUT ROWID;

-- Each post's picture waits to have its text read and matched: NULL (not a stored picture),
-- pending, done. A picture stored before this migration waits too: turning OCR on reads the
-- backlog, newest first, and matches it for search and digests (old posts never alert).
ALTER TABLE post_media ADD COLUMN ocr TEXT CHECK (ocr IN ('pending', 'done'));
UPDATE post_media SET ocr = 'pending' WHERE state = 'stored' AND mime LIKE 'image/%';
CREATE INDEX post_media_ocr ON post_media (post_date DESC, post_id DESC, file_id)
    WHERE ocr = 'pending';

-- The full-text index of the text in a post's pictures: rowid = the post's id, one document
-- per picture read (the same terms as posts_fts, bot/archive/terms.py). Searches look here as
-- well as in posts_fts once it holds anything.
CREATE VIRTUAL TABLE image_fts USING fts5(
    terms, content = '', detail = 'none',
    tokenize = "unicode61 remove_diacritics 0 tokenchars '''-_'"
);

-- A match found in the text of the post's picture rather than in its own text: its spans are
-- empty (they would point into the picture's text, which is read from media_text).
ALTER TABLE matches ADD COLUMN in_image INTEGER NOT NULL DEFAULT 0;
