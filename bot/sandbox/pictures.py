"""Pictures with text in them, drawn with Pillow: the demo's screenshot, the OCR tests and
bench/media.py. The font is matplotlib's DejaVu Sans (matplotlib is a dependency), which has
Cyrillic letters; nothing is bundled."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def font_path() -> str:
    """A TrueType font with Cyrillic letters: matplotlib's DejaVu Sans."""
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def text_picture(lines: list[str], *, size: tuple[int, int] = (900, 300), seed: int = 0,
                 font_size: int = 30) -> Image.Image:
    """A screenshot-like picture: dark text on a light background, a few shapes beside it."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, (245, 244, 238))
    draw = ImageDraw.Draw(img)
    for _ in range(3):  # something that is not text, away from the lines
        x = rng.randrange(size[0] - 120, size[0] - 60)
        y = rng.randrange(0, max(1, size[1] - 60))
        draw.rectangle((x, y, x + 50, y + 50), fill=tuple(rng.randrange(80, 200) for _ in "rgb"))
    font = ImageFont.truetype(font_path(), font_size)
    for n, line in enumerate(lines):
        draw.text((30, 30 + n * int(font_size * 1.8)), line, font=font, fill=(25, 25, 30))
    return img


def wrapped(text: str, width: int = 45, lines: int = 4) -> list[str]:
    """The first ``lines`` lines of ``text`` wrapped at ``width`` characters."""
    return textwrap.wrap(" ".join(text.split()), width)[:lines]
