"""Perceptual hashes of images the test draws: copies stay near, other pictures stay far."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from bot.media.phash import SAME_IMAGE_DISTANCE, VARIANTS, distance, image_phash
from tests.support.images import encode, scene


def save(img: Image.Image, path: Path, fmt: str = "JPEG", **options: object) -> Path:
    path.write_bytes(encode(img, fmt, **options))
    return path


def test_copies_are_near_and_other_pictures_far(tmp_path: Path) -> None:
    original = scene(1)
    base = image_phash(save(original, tmp_path / "a.jpg", quality=95))
    assert base is not None and [len(h) for h in base.split()] == [16] * len(VARIANTS)
    copies = {
        "recompressed": save(original, tmp_path / "b.jpg", quality=40),
        "resized": save(original.resize((320, 240)), tmp_path / "c.jpg", quality=80),
        "png": save(original, tmp_path / "d.png", "PNG"),
        "cropped border": save(original.crop((8, 6, 632, 474)), tmp_path / "e.jpg"),
        "brighter": save(original.point(lambda v: min(255, v + 20)), tmp_path / "f.jpg"),
    }
    near = {}
    for name, path in copies.items():
        other = image_phash(path)
        assert other is not None
        near[name] = distance(base, other)
    assert max(near.values()) <= 4, near
    far = []
    for seed in range(2, 22):
        other = image_phash(save(scene(seed), tmp_path / f"s{seed}.jpg"))
        assert other is not None
        far.append(distance(base, other))
    assert min(far) > SAME_IMAGE_DISTANCE, sorted(far)


def test_what_is_not_an_image_has_no_hash(tmp_path: Path) -> None:
    junk = tmp_path / "x.jpg"
    junk.write_bytes(b"%PDF-1.4 not an image")
    assert image_phash(junk) is None
    truncated = tmp_path / "t.jpg"
    truncated.write_bytes(save(scene(3), tmp_path / "full.jpg").read_bytes()[:200])
    assert image_phash(truncated) is None


def test_distance_counts_differing_bits() -> None:
    assert distance("0000000000000000", "0000000000000000") == 0
    assert distance("0000000000000000", "ffffffffffffffff") == 64
    assert distance("8000000000000001", "0000000000000000") == 2
    # the least over the pictures' variants; a single hash (stored before them) compares too
    assert distance("ffffffffffffffff 8000000000000001", "0000000000000000") == 2
    assert distance("ffffffffffffffff 00000000000000ff", "0000000000000000 0fffffffffffffff") == 4


def test_crops_and_a_caption_band_are_found_by_the_variants(tmp_path: Path) -> None:
    """What channels do to a picture they repost: crop it, stamp their name along the bottom.
    The whole picture's hash alone misses these (tested: more than 8 bits for some)."""
    from PIL import ImageDraw

    original = scene(5)
    base = image_phash(save(original, tmp_path / "a.jpg", quality=95))
    assert base is not None
    w, h = original.size
    banded = original.copy()
    ImageDraw.Draw(banded).rectangle((0, int(h * 0.92), w, h), fill=(0, 0, 0))
    ImageDraw.Draw(banded).text((10, int(h * 0.94)), "@some_channel", fill=(255, 255, 255))
    copies = {
        "5 % crop": original.crop((int(w * 0.025), int(h * 0.025), int(w * 0.975),
                                   int(h * 0.975))),
        "10 % crop": original.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95),
                                    int(h * 0.95))),
        "caption band": banded,
    }
    whole_only = base.split()[0]
    for name, img in copies.items():
        other = image_phash(save(img, tmp_path / "c.jpg", quality=85))
        assert other is not None
        assert distance(base, other) <= SAME_IMAGE_DISTANCE, name
        if "crop" in name:  # the copy's whole picture is one of the original's middles
            assert distance(base, other.split()[0]) <= SAME_IMAGE_DISTANCE, name
    wholes = [distance(whole_only, (image_phash(save(img, tmp_path / "d.jpg")) or "").split()[0])
              for img in copies.values()]
    assert max(wholes) > SAME_IMAGE_DISTANCE, wholes  # what the variants are for
