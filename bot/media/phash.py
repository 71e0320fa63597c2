"""The same picture across channels: a perceptual hash of every stored image.

imagehash's ``phash`` (BSD-2): the image reduced to 32x32 grey, its discrete cosine
transform, and one bit per low frequency (8x8) above their median: 64 bits that survive
re-compression, resizing, small crops of the border and colour shifts, which is what reposting a
photo does to it. Two images are "the same" when their hashes differ in at most
``SAME_IMAGE_DISTANCE`` of the 64 bits: on pictures drawn by ``tests/media/test_phash.py``,
re-encoded, resized, border-cropped and brightened copies came out 0-2 bits apart, and 100
unrelated pictures 22 bits or more. On real photos (bench/phash_quality.py) re-encoded and
resized copies stay within it; border crops of 5-10 %, a caption band or a corner logo mostly
do not (up to 36 bits), and different photos were 22 bits or more apart.

Why not PDQ (Meta's 256-bit hash, made for exactly this): its Python binding has no wheels, so
it would need a C++ compiler wherever chanwatch is installed; imagehash installs from wheels
everywhere (numpy, scipy, PyWavelets).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)
SAME_IMAGE_DISTANCE = 8  # of 64 bits


def image_phash(path: Path) -> str | None:
    """The image's hash as 16 hex digits; None for what Pillow cannot read as an image."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return str(imagehash.phash(img))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        log.info("no perceptual hash for %s: %s", path.name, exc)
        return None


def distance(a: str, b: str) -> int:
    """How many of the 64 bits two hashes differ in."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
