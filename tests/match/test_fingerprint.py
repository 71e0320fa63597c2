"""Text fingerprints (MinHash over word 3-shingles): stable values, the live path's shortcut."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.match.dedup import MIN_WORDS, SLOTS, fingerprint, similarity, story_keys
from bot.match.normalize import tokenize
from bot.models import Post

DATASET = Path(__file__).resolve().parents[3] / "shared" / "data" / "ru-news-2024"


def reference_fingerprint(text: str) -> bytes | None:
    """The signature as first defined (column minima in plain Python): stored ones stay valid."""
    import re
    words = [t.norm for t in tokenize(re.sub(r"https?://\S+|t\.me/\S+|@\w+", " ", text))]
    if len(words) < MIN_WORDS:
        return None
    half = struct.Struct(f"<{SLOTS // 2}I")

    def slots(shingle: str) -> tuple[int, ...]:
        data = shingle.encode()
        return (half.unpack(hashlib.blake2b(data, digest_size=64, person=b"cw-a").digest())
                + half.unpack(hashlib.blake2b(data, digest_size=64, person=b"cw-b").digest()))

    shingles = {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
    columns = zip(*map(slots, shingles), strict=True)
    return struct.pack(f"<{SLOTS}I", *(min(c) for c in columns))


def corpus_texts(limit: int) -> list[str]:
    files = sorted(DATASET.glob("*_messages.json"))
    if not files:
        pytest.skip(f"the ru-news-2024 dataset is not at {DATASET}")
    texts: list[str] = []
    for path in files:
        texts += [str(r["text"]) for r in json.loads(path.read_text(encoding="utf-8"))
                  if r.get("text")][:limit // len(files) + 1]
    return texts[:limit]


def test_signatures_equal_the_first_definition_on_real_posts() -> None:
    texts = corpus_texts(600)
    assert sum(fingerprint(t) is not None for t in texts) > 400
    for text in texts:
        assert fingerprint(text) == reference_fingerprint(text)


def test_the_tokens_of_the_live_path_give_the_same_signature() -> None:
    texts = corpus_texts(600)
    assert any("http" in t or "@" in t for t in texts)  # links are left out either way
    for text in texts:
        assert fingerprint(text, tokenize(text)) == fingerprint(text)
        post = Post(1, 2, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), text, "https://t.me/c/1/2")
        assert story_keys(post, alerting=True, tokens=tokenize(text)).fingerprint == \
            fingerprint(text)


@given(st.text(alphabet="абв где жзи клм https://t.me/x @chan ", max_size=200))
def test_any_text_signature_matches_the_reference(text: str) -> None:
    assert fingerprint(text, tokenize(text)) == reference_fingerprint(text)


def test_a_copied_post_with_a_link_added_is_still_the_same_story() -> None:
    text = "Сбит беспилотник над Белгородом, пострадавших нет, сообщил губернатор области"
    copy = text + " https://t.me/news/1 @news"
    assert similarity(fingerprint(text), fingerprint(copy, tokenize(copy))) == 1.0
