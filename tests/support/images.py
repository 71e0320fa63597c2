"""Pictures the tests draw (Pillow): no image files are bundled."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

from bot.sandbox.pictures import text_picture

__all__ = ["encode", "noise_jpeg", "scene", "text_picture"]


def scene(seed: int) -> Image.Image:
    """A photo-like picture: smooth shapes of random colours (noise would hash as noise)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (640, 480), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(600), rng.randrange(440)
        w, h = rng.randrange(40, 300), rng.randrange(40, 300)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=tuple(rng.randrange(256) for _ in range(3)))
    return img.filter(ImageFilter.GaussianBlur(3))


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    """The picture's bytes in a file format."""
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def noise_jpeg(seed: int, side: int = 320) -> bytes:
    """A distinct JPEG of noise (it does not compress: a few tens of kB)."""
    rng = random.Random(seed)
    img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    return encode(img, quality=90)

