"""The same-picture threshold on real photos: how far reposted copies and different photos are.

chanwatch calls two images the same when their perceptual hashes (bot/media/phash.py) differ
in at most SAME_IMAGE_DISTANCE (8) of 64 bits. That threshold was set on pictures the tests
draw; this checks it on photographs it was not set on. Run by hand with photos of your own
(none ship with chanwatch: no freely licensed photo set is small enough to bundle), e.g. the
regression photos of Meta's PDQ (github.com/facebook/ThreatExchange, pdq/data):

    python bench/phash_quality.py pdq/data/reg-test-input/labelme-subset/*.jpg \\
        pdq/data/misc-images/c.png --mods pdq/data/bridge-mods

Every photo given is a different picture. Each is also put through what reposting does on
Telegram: JPEG re-encoding (quality 40, 60, 80), resizing (to 1280 px, 50 %, 25 %), border
crops (5 %, 10 %), brightness and contrast (±20 %), a caption band along the bottom (a
channel's name in white on black, 8 % of the height), a logo in a corner, a mirror image (not
expected to match: phash is not flip-invariant); and, reported apart as held out, edits of
sizes and places the hash's variants were not chosen for (3, 7 and 15 % crops, one side
cropped, a 12 % band, a band along the top, a band then re-encoding, a crop then resizing).
``--mods DIR``: a folder whose ``aaa-orig.*`` is a photo and every other file an edit of it
(blur, sharpen, shrink, squares: PDQ's bridge-mods), added as same-picture pairs.

Prints one JSON line: per transform the largest distance to its original, the share of copies
at or under the threshold (recall), and over all pairs of different photos the smallest
distance and the share at or under the threshold (false matches).
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from bot.media.phash import SAME_IMAGE_DISTANCE, distance, image_phash

Transform = Callable[[Image.Image], Image.Image]


def _jpeg(quality: int) -> Transform:
    def apply(img: Image.Image) -> Image.Image:
        path = Path(tempfile.mkstemp(suffix=".jpg")[1])
        img.convert("RGB").save(path, "JPEG", quality=quality)
        with Image.open(path) as out:
            out.load()
            path.unlink()
            return out.copy()
    return apply


def _scale(factor: float | None = None, side: int | None = None) -> Transform:
    def apply(img: Image.Image) -> Image.Image:
        f = factor if factor is not None else min(1.0, (side or 1) / max(img.size))
        return img.resize((max(8, int(img.width * f)), max(8, int(img.height * f))),
                          Image.Resampling.LANCZOS)
    return apply


def _crop(share: float) -> Transform:
    def apply(img: Image.Image) -> Image.Image:
        dx, dy = int(img.width * share / 2), int(img.height * share / 2)
        return img.crop((dx, dy, img.width - dx, img.height - dy))
    return apply


def _band(share: float = 0.08, top: bool = False) -> Transform:
    def apply(img: Image.Image) -> Image.Image:
        out = img.convert("RGB").copy()
        band = max(12, int(out.height * share))
        y = 0 if top else out.height - band
        draw = ImageDraw.Draw(out)
        draw.rectangle((0, y, out.width, y + band), fill=(0, 0, 0))
        draw.text((10, y + band // 4), "@some_channel | подписаться", fill=(255, 255, 255))
        return out
    return apply


def _crop_side(share: float) -> Transform:
    def apply(img: Image.Image) -> Image.Image:
        return img.crop((int(img.width * share), 0, img.width, img.height))
    return apply


def _logo(img: Image.Image) -> Image.Image:
    out = img.convert("RGB").copy()
    side = max(10, min(out.size) // 8)
    ImageDraw.Draw(out).ellipse((out.width - side - 8, 8, out.width - 8, side + 8),
                                fill=(220, 30, 30))
    return out


TRANSFORMS: dict[str, Transform] = {
    "jpeg_q40": _jpeg(40), "jpeg_q60": _jpeg(60), "jpeg_q80": _jpeg(80),
    "resize_1280": _scale(side=1280), "resize_50pct": _scale(0.5), "resize_25pct": _scale(0.25),
    "crop_5pct": _crop(0.05), "crop_10pct": _crop(0.10),
    "brighter_20pct": lambda i: ImageEnhance.Brightness(i.convert("RGB")).enhance(1.2),
    "darker_20pct": lambda i: ImageEnhance.Brightness(i.convert("RGB")).enhance(0.8),
    "contrast_20pct": lambda i: ImageEnhance.Contrast(i.convert("RGB")).enhance(1.2),
    "caption_band": _band(), "corner_logo": _logo,
    "mirrored (not expected)": ImageOps.mirror,
}
# Held out: edits of sizes and places the hash variants (bot/media/phash.py VARIANTS) were not
# chosen for, reported apart.
HELD_OUT: dict[str, Transform] = {
    "crop_3pct": _crop(0.03), "crop_7pct": _crop(0.07), "crop_15pct": _crop(0.15),
    "crop_left_8pct": _crop_side(0.08), "caption_band_12pct": _band(0.12),
    "caption_band_top_6pct": _band(0.06, top=True),
    "band_and_jpeg_q60": lambda i: _jpeg(60)(_band(0.10)(i)),
    "crop_5pct_and_resize_50pct": lambda i: _scale(0.5)(_crop(0.05)(i)),
}


def phash_of(img: Image.Image, work: Path) -> str:
    path = work / "x.png"
    img.convert("RGB").save(path, "PNG")
    return image_phash(path)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path, help="different photos")
    parser.add_argument("--mods", type=Path, help="aaa-orig.* and edits of it")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="chanwatch-phash-"))
    originals: dict[str, str] = {}
    per_transform: dict[str, list[int]] = {name: [] for name in TRANSFORMS}
    held_out: dict[str, list[int]] = {}
    for path in sorted(args.photos):
        with Image.open(path) as opened:
            img = ImageOps.exif_transpose(opened).convert("RGB")
        originals[path.name] = base = phash_of(img, work)
        for name, transform in TRANSFORMS.items():
            per_transform[name].append(distance(base, phash_of(transform(img), work)))
        for name, transform in HELD_OUT.items():
            held_out.setdefault(name, []).append(distance(base, phash_of(transform(img), work)))
    if args.mods is not None:
        orig = next(args.mods.glob("aaa-orig.*"))
        base = image_phash(orig)
        originals.setdefault(f"mods:{orig.name}", base)
        for edit in sorted(p for p in args.mods.iterdir() if p != orig):
            per_transform.setdefault(f"mods:{edit.stem}", []).append(
                distance(base, image_phash(edit)))
    different = [distance(a, b) for a, b in itertools.combinations(originals.values(), 2)]
    limit = SAME_IMAGE_DISTANCE
    copies = [d for name, ds in per_transform.items() if "not expected" not in name for d in ds]
    result: dict[str, object] = {
        "bench": "phash_quality", "threshold_bits": limit, "photos": len(originals),
        "copies": len(copies),
        "copy_recall": round(sum(d <= limit for d in copies) / max(len(copies), 1), 3),
        "copy_max_bits": max(copies, default=None),
        "by_transform": {name: {"max_bits": max(ds), "recall": round(
            sum(d <= limit for d in ds) / len(ds), 3)} for name, ds in per_transform.items()
            if ds},
        "held_out_copies": sum(len(ds) for ds in held_out.values()),
        "held_out_recall": round(sum(d <= limit for ds in held_out.values() for d in ds)
                                 / max(sum(len(ds) for ds in held_out.values()), 1), 3),
        "held_out_by_transform": {name: {"max_bits": max(ds), "recall": round(
            sum(d <= limit for d in ds) / len(ds), 3)} for name, ds in held_out.items()},
        "different_pairs": len(different),
        "different_min_bits": min(different, default=None),
        "false_match_rate": round(sum(d <= limit for d in different) / max(len(different), 1),
                                  3),
        "different_bits_sorted": sorted(different)[:10],
        "by_threshold": {t: {"copy_recall": round(sum(d <= t for d in copies)
                                                  / max(len(copies), 1), 3),
                             "false_match_rate": round(sum(d <= t for d in different)
                                                       / max(len(different), 1), 3)}
                         for t in (6, 8, 10, 12, 16, 20)},
    }
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
