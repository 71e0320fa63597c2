"""Same story, different channel: forward origins and near-identical text fingerprints.

A post's *story* is where it came from: the channel post it forwards, or itself. Reposts that
are not forwards (copied text, a signature line or an emoji added, a word changed) are caught
by a MinHash signature of the normalised text's word 3-shingles: the share of equal slots of
two signatures estimates the Jaccard similarity of their shingle sets.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence

import numpy as np

from bot.match.normalize import Token, tokenize
from bot.models import Post, StoryKeys

SLOTS = 32  # 32 x 32-bit minima: 128 bytes per post, similarity in steps of 1/32
SIMILAR = 0.6  # estimated Jaccard at or above this: the same story
MIN_WORDS = 6  # shorter texts ("Тревога!") are too common to call the same story
BAND_SLOTS = 2  # LSH bands of 2 consecutive slots (8 bytes): 16 bands per signature
BANDS = SLOTS // BAND_SLOTS
_URL_RE = re.compile(r"https?://\S+|t\.me/\S+|@\w+")
_PACK = struct.Struct(f"<{SLOTS}I")


def story_key(post: Post) -> str:
    """The forward origin of a post, or the post itself, as ``channel:<id>/<message id>``."""
    if post.fwd_from and post.fwd_from.startswith("channel:") and "/" in post.fwd_from:
        return post.fwd_from
    return f"channel:{post.channel_id}/{post.message_id}"


def story_keys(post: Post, *, alerting: bool,
               tokens: Sequence[Token] | None = None) -> StoryKeys:
    """The keys dedup compares: the story always, the text's fingerprint when it alerts.

    ``tokens``: the post's text already tokenised (the live path's TextAnalysis), if at hand.
    """
    return StoryKeys(story_key(post), fingerprint(post.text, tokens) if alerting else None)


def _slots(shingle: str) -> bytes:
    data = shingle.encode()
    # two independent 512-bit hashes give the 32 values (little-endian uint32) of a shingle
    return (hashlib.blake2b(data, digest_size=64, person=b"cw-a").digest()
            + hashlib.blake2b(data, digest_size=64, person=b"cw-b").digest())


def fingerprint(text: str, tokens: Sequence[Token] | None = None) -> bytes | None:
    """MinHash signature of the text's word 3-shingles; None if the text is too short.

    Links and @mentions are left out. ``tokens`` are ``tokenize(text)``'s, reused when the
    text has none of those (the same words either way).
    """
    if tokens is None or _URL_RE.search(text):
        tokens = tokenize(_URL_RE.sub(" ", text))
    words = [t.norm for t in tokens]
    if len(words) < MIN_WORDS:
        return None
    shingles = {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
    # each slot's minimum over the shingles, one row of 32 values per shingle
    slots = np.frombuffer(b"".join(map(_slots, shingles)), dtype="<u4")
    signature: bytes = slots.reshape(-1, SLOTS).min(axis=0).astype("<u4").tobytes()
    return signature


def similarity(a: bytes | None, b: bytes | None) -> float | None:
    """Estimated Jaccard similarity of two signatures (None if either is missing); SQL too."""
    if a is None or b is None or len(a) != len(b):
        return None
    same: int = sum(x == y for x, y in zip(_PACK.unpack(a), _PACK.unpack(b), strict=True))
    return same / SLOTS


def bands(signature: bytes | None) -> list[tuple[int, bytes]]:
    """The signature's LSH bands, (n, bytes 8n..8n+7): the keys of migrations/0008's index.

    Recall is exact, not probabilistic: ``similarity >= SIMILAR`` means at least 20 of the
    32 slots are equal (19/32 < 0.6 <= 20/32), so at most 12 differ. A differing slot spoils
    the one band it lies in, so at most 12 of the 16 bands are spoiled and the two
    signatures share at least 4 whole bands, wherever the differences fall. Looking up a
    signature's bands therefore finds every signature similar enough to be the same story;
    the candidates are then confirmed with ``similarity`` (sharing a band alone proves
    nothing). A signature similarity() cannot compare (missing, wrong length) has no bands.

    The SQL of the migration cuts the same bytes with ``substr(fingerprint, 1 + 8 * n, 8)``.
    """
    if signature is None or len(signature) != _PACK.size:
        return []
    width = 4 * BAND_SLOTS
    return [(n, signature[n * width:(n + 1) * width]) for n in range(BANDS)]
