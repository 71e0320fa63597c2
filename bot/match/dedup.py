"""Same story, different channel: forward origins and near-identical text fingerprints.

A post's *story* is where it came from: the channel post it forwards, or itself. Reposts that
are not forwards (copied text, a signature line added, an emoji changed) are caught by a
64-bit SimHash over word 3-shingles of the normalised text: near-identical texts differ in a
few bits, unrelated ones in about 32.
"""

from __future__ import annotations

import hashlib
import re

from bot.match.normalize import tokenize
from bot.models import Post

NEAR_BITS = 3  # fingerprints at most this many bits apart are the same story
MIN_WORDS = 6  # shorter texts ("Тревога!") are too common to call the same story
_URL_RE = re.compile(r"https?://\S+|t\.me/\S+|@\w+")
_MASK = (1 << 64) - 1


def story_key(post: Post) -> str:
    """The forward origin of a post, or the post itself, as ``channel:<id>/<message id>``."""
    if post.fwd_from and post.fwd_from.startswith("channel:") and "/" in post.fwd_from:
        return post.fwd_from
    return f"channel:{post.channel_id}/{post.message_id}"


def _hash64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


def fingerprint(text: str) -> int | None:
    """SimHash of the text's word 3-shingles (signed 64-bit for SQLite); None if too short."""
    words = [t.norm for t in tokenize(_URL_RE.sub(" ", text))]
    if len(words) < MIN_WORDS:
        return None
    shingles = {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
    weights = [0] * 64
    for shingle in shingles:
        h = _hash64(shingle)
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    value = sum(1 << bit for bit in range(64) if weights[bit] > 0)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int | None, b: int | None) -> int | None:
    """Bits in which two fingerprints differ (None if either is missing); a SQLite function."""
    if a is None or b is None:
        return None
    return ((a ^ b) & _MASK).bit_count()
