"""Perceptual hashes of images the test draws: copies stay near, other pictures stay far."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from bot.media.phash import SAME_IMAGE_DISTANCE, distance, image_phash
from tests.support.images import encode, scene


def save(img: Image.Image, path: Path, fmt: str = "JPEG", **options: object) -> Path:
    path.write_bytes(encode(img, fmt, **options))
    return path


def test_copies_are_near_and_other_pictures_far(tmp_path: Path) -> None:
    original = scene(1)
    base = image_phash(save(original, tmp_path / "a.jpg", quality=95))
    assert base is not None and len(base) == 16
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
