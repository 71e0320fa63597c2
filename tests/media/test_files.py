"""The content-addressed media store on a real filesystem."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.media.files import MediaFiles, extension


def test_extension_from_mime_then_name() -> None:
    assert extension("image/jpeg") == "jpg"
    assert extension("VIDEO/MP4", "x.mov") == "mp4"
    assert extension("application/x-unknown", "Report.DOCX") == "docx"
    assert extension("application/x-unknown", "../../etc/passwd") == "bin"
    assert extension("application/x-unknown", "weird.name with space") == "bin"
    assert extension("application/octet-stream") == "bin"


def test_put_stores_once_by_content(tmp_path: Path) -> None:
    files = MediaFiles(tmp_path / "media")
    files.make_temp()
    first = files.tmp / "a.part"
    first.write_bytes(b"same bytes")
    stored = files.put(first, "jpg")
    sha = hashlib.sha256(b"same bytes").hexdigest()
    assert (stored.sha256, stored.size, stored.ext, stored.new) == (sha, 10, "jpg", True)
    assert files.path(sha, "jpg").read_bytes() == b"same bytes"
    assert files.path(sha, "jpg").parent.name == sha[:2]
    assert not first.exists()
    # the same bytes again, even announced as another kind: kept once, under the first name
    second = files.tmp / "b.part"
    second.write_bytes(b"same bytes")
    again = files.put(second, "pdf")
    assert (again.sha256, again.ext, again.new) == (sha, "jpg", False)
    assert not second.exists()
    assert sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file()) == [
        f"{sha}.jpg"]


def test_clear_temp_removes_only_leftovers(tmp_path: Path) -> None:
    files = MediaFiles(tmp_path / "media")
    assert files.clear_temp() == 0  # no tmp/ yet
    files.make_temp()
    (files.tmp / "1-2.part").write_bytes(b"half")
    (files.tmp / "3-4.part").write_bytes(b"")
    kept = files.tmp / "sub"
    kept.mkdir()
    assert files.clear_temp() == 2
    assert [p.name for p in files.tmp.iterdir()] == ["sub"]
