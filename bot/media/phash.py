"""The same picture across channels: a perceptual hash of every stored image.

imagehash's ``phash`` (BSD-2): the image reduced to 32x32 grey, its discrete cosine
transform, and one bit per low frequency (8x8) above their median: 64 bits that survive
re-compression, resizing, small crops of the border and colour shifts, which is what reposting a
photo does to it. Two images are "the same" when their hashes differ in at most
``SAME_IMAGE_DISTANCE`` of the 64 bits: on pictures drawn by ``tests/media/test_phash.py``,
re-encoded, resized, border-cropped and brightened copies came out 0-2 bits apart, and 100
unrelated pictures 22 bits or more. On real photos (bench/phash_quality.py) the whole
picture's hash misses border crops and caption bands, hence ``VARIANTS``.

Why not PDQ (Meta's 256-bit hash, made for exactly this): its Python binding has no wheels, so
it would need a C++ compiler wherever chanwatch is installed; imagehash installs from wheels
everywhere (numpy, scipy, PyWavelets).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)
SAME_IMAGE_DISTANCE = 8  # of 64 bits


# What is hashed besides the whole picture (left, top, right, bottom as shares of the sides):
# a repost cropped by 5 or 10 % is another's 95 % or 90 % middle, and one with a caption band
# stamped along the bottom shares the other's top 88 %. Measured on real photos
# (bench/phash_quality.py): with these, 5-10 % crops, caption bands and +-20 % brightness are
# found (without: 1-5 of 9), and different photos came 16 bits close instead of 22.
VARIANTS = ((0.0, 0.0, 1.0, 1.0), (0.025, 0.025, 0.975, 0.975), (0.05, 0.05, 0.95, 0.95),
            (0.0, 0.0, 1.0, 0.88))


def image_phash(path: Path) -> str | None:
    """The image's hashes, 16 hex digits each, space-separated: the whole picture first, then
    its ``VARIANTS``; None for what Pillow cannot read as an image."""
    import imagehash
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            img = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        log.info("no perceptual hash for %s: %s", path.name, exc)
        return None
    w, h = img.size
    hashes = []
    for left, top, right, bottom in VARIANTS:
        part = img.crop((int(left * w), int(top * h), max(int(right * w), 1),
                         max(int(bottom * h), 1)))
        hashes.append(str(imagehash.phash(part)))
    return " ".join(hashes)


def distance(a: str, b: str) -> int:
    """How many of the 64 bits two pictures' hashes differ in: the least over their variants
    (a hash of one 16-digit value, from before the variants, compares as it is)."""
    return min((int(x, 16) ^ int(y, 16)).bit_count() for x in a.split() for y in b.split())
