"""The media store on disk: every file once, named by the SHA-256 of its bytes.

Layout under ``$DATA_DIR/media``::

    ab/ab12…ef.jpg   a stored file: its SHA-256 (hex), in a folder named by the first two
                     digits (256 folders, so none grows past a few thousand files)
    tmp/             downloads in progress; emptied at start (a crash leaves only these)

A file is written under ``tmp/``, flushed to disk, hashed and then renamed into place, so a
name under ``ab/`` always holds exactly the bytes it names: a download that crashed halfway
never shows up as a stored file, and two posts with the same picture share one file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bot.store.backup import fsync_dir

CHUNK = 1 << 20
_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
    "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/x-wav": "wav",
    "application/pdf": "pdf", "application/zip": "zip", "application/x-tgsticker": "tgs",
    "text/plain": "txt",
}
_SUFFIX_RE = re.compile(r"^[a-z0-9]{1,8}$")


def extension(mime: str, file_name: str | None = None) -> str:
    """The stored file's extension: from its MIME type, else its name's, else ``bin``."""
    known = _EXTENSIONS.get(mime.lower())
    if known:
        return known
    if file_name and "." in file_name:
        suffix = file_name.rsplit(".", 1)[1].lower()
        if _SUFFIX_RE.match(suffix):
            return suffix
    return "bin"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredFile:
    """A file put into the store."""

    sha256: str
    size: int
    ext: str
    new: bool  # False: the same bytes were stored already


class MediaFiles:
    """Content-addressed files under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def path(self, sha256: str, ext: str) -> Path:
        """Where the file with this hash is (or would be) stored."""
        return self.root / sha256[:2] / f"{sha256}.{ext}"

    def make_temp(self) -> None:
        """Create ``tmp/``, where downloads are written (OSError: the disk refuses)."""
        self.tmp.mkdir(parents=True, exist_ok=True)

    def clear_temp(self) -> int:
        """Remove what interrupted downloads left; return how many files."""
        if not self.tmp.is_dir():
            return 0
        removed = 0
        for leftover in sorted(self.tmp.iterdir()):
            if leftover.is_file():
                leftover.unlink()
                removed += 1
        return removed

    def put(self, downloaded: Path, ext: str) -> StoredFile:
        """Move a downloaded file into the store.

        A file already stored (under any extension: the same bytes may come as a photo and
        as a document) is kept as it is, and the download is removed.
        """
        with downloaded.open("rb") as f:
            os.fsync(f.fileno())
        sha = sha256_of(downloaded)
        size = downloaded.stat().st_size
        folder = self.root / sha[:2]
        existing = sorted(folder.glob(f"{sha}.*")) if folder.is_dir() else []
        if existing:
            downloaded.unlink()
            return StoredFile(sha, size, existing[0].suffix[1:], False)
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(downloaded, self.path(sha, ext))
        fsync_dir(folder)  # the rename survives a power loss before the row is committed
        return StoredFile(sha, size, ext, True)
