"""Verifying evidence bundles on a real filesystem: every way a bundle can differ."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from bot.media.bundle import BundleError, verify_bundle


def bundle(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    manifest = "".join(f"{hashlib.sha256(d).hexdigest()}  {rel}\n"
                       for rel, d in sorted(files.items()))
    (root / "MANIFEST.sha256").write_text(manifest)
    (root / "BUNDLE.sha256").write_text(
        f"{hashlib.sha256(manifest.encode()).hexdigest()}  MANIFEST.sha256\n")
    return root


def test_untouched_bundle_verifies(tmp_path: Path) -> None:
    root = bundle(tmp_path, {"posts.jsonl": b"{}\n", "media/ab/ab.jpg": b"jpeg"})
    result = verify_bundle(root)
    assert result.ok and result.checked == 2


def test_each_difference_is_named(tmp_path: Path) -> None:
    root = bundle(tmp_path, {"posts.jsonl": b"{}\n", "media/ab/ab.jpg": b"jpeg",
                             "media/cd/cd.pdf": b"pdf"})
    (root / "media/ab/ab.jpg").write_bytes(b"jpeg!")
    (root / "media/cd/cd.pdf").unlink()
    (root / "media/ef.txt").write_bytes(b"new")
    result = verify_bundle(root)
    assert not result.ok
    assert (result.changed, result.missing, result.extra) == (
        ["media/ab/ab.jpg"], ["media/cd/cd.pdf"], ["media/ef.txt"])
    assert result.bundle_ok  # the manifest itself is untouched


def test_bundle_hash_guards_the_manifest(tmp_path: Path) -> None:
    root = bundle(tmp_path, {"posts.jsonl": b"{}\n"})
    noted = verify_bundle(root).bundle_sha256
    assert verify_bundle(root, expect=noted.upper()).ok
    (root / "BUNDLE.sha256").write_text("not a hash")
    assert not verify_bundle(root).bundle_ok
    (root / "BUNDLE.sha256").unlink()
    assert not verify_bundle(root).ok
    # a file changed and the manifest and BUNDLE.sha256 written again to match: only the hash
    # noted down when the bundle was handed over tells
    forged = bundle(root, {"posts.jsonl": b'{"forged": true}\n'})
    assert verify_bundle(forged).ok
    assert not verify_bundle(forged, expect=noted).ok


def test_not_a_bundle_and_a_malformed_manifest(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=re.escape("holds no MANIFEST.sha256")):
        verify_bundle(tmp_path)
    (tmp_path / "MANIFEST.sha256").write_text(f"{'0' * 64}  posts.jsonl\nnonsense\n")
    with pytest.raises(BundleError, match="line 2 is not '<sha256>  <path>'"):
        verify_bundle(tmp_path)
    (tmp_path / "MANIFEST.sha256").write_text(f"{'0' * 64}  ../outside.txt\n")
    with pytest.raises(BundleError, match="line 1 names a file outside the bundle"):
        verify_bundle(tmp_path)
