"""Evidence bundles: posts with every version, deletion times and their files, hashed.

``chanwatch export --evidence DIR [QUERY] [--since --until]`` writes::

    DIR/posts.jsonl       one post per line: the JSONL export's record (every earlier text
                          with its edit and replacement time, deleted_at) plus "media": the
                          files it carried, each with its sha256 and path in the bundle, or
                          the state saying why it was not kept
    DIR/media/ab/<sha256>.<ext>   each file once, copied from the media store
    DIR/ABOUT.json        what was asked (query, period), when, by which chanwatch, counts
    DIR/MANIFEST.sha256   "<sha256>  <path>" for every file above, sorted by path: the format
                          of sha256sum, so ``sha256sum -c MANIFEST.sha256`` checks it too
    DIR/BUNDLE.sha256     "<bundle hash>  MANIFEST.sha256": the SHA-256 of the manifest, the one
                          figure to note down (any changed file changes its manifest line, so
                          the bundle hash); ``sha256sum -c BUNDLE.sha256`` checks it

The bundle hash pins the bundle only when it is kept apart from it (noted down, sent with the
hand-over): whoever can rewrite the files can rewrite the manifest and BUNDLE.sha256 too.
``chanwatch verify DIR --expect HASH`` compares with the hash noted down.

The bundle is written as DIR.partial and renamed when complete: a failed export leaves no
bundle. ``chanwatch verify DIR`` re-hashes every file and reports what changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.archive.export import ExportSource, Selection, json_record, rows
from bot.clock import to_iso
from bot.media.files import MediaFiles, sha256_of

POSTS, ABOUT, MANIFEST, BUNDLE = "posts.jsonl", "ABOUT.json", "MANIFEST.sha256", "BUNDLE.sha256"
FORMAT = "chanwatch-evidence/1"


class BundleError(Exception):
    """The bundle cannot be written or read; the message is fit to show."""


@dataclass(frozen=True)
class BundleSummary:
    """What a bundle holds."""

    posts: int
    files: int
    bytes: int
    missing: int  # files a post carried that the store does not hold (not kept, or lost)
    bundle_sha256: str


@dataclass
class Verification:
    """What ``verify`` found: each list holds bundle paths."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    bundle_ok: bool = True  # BUNDLE.sha256 (and the expected hash, if given) agree
    bundle_sha256: str = ""  # the manifest's hash, as computed now

    @property
    def ok(self) -> bool:
        """Nothing changed, nothing missing, nothing added, the bundle hash agrees."""
        return self.bundle_ok and not (self.changed or self.missing or self.extra)


async def write_bundle(archive: ExportSource, chosen: Selection, media: MediaFiles,
                       target: Path, about: dict[str, Any], now: dt.datetime,
                       progress: Callable[[int], object] | None = None) -> BundleSummary:
    """Write the bundle of the selected posts into ``target`` (which must not exist).

    A command-line tool's work: the files are copied and hashed in the loop's thread.
    """
    partial = _start(target)
    try:
        summary = await _write(archive, chosen, media, partial, about, now, progress)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary


async def _write(archive: ExportSource, chosen: Selection, media: MediaFiles, out: Path,
                 about: dict[str, Any], now: dt.datetime,
                 progress: Callable[[int], object] | None) -> BundleSummary:
    posts = missing = 0
    copied: dict[str, str] = {}  # sha256 -> bundle path
    with (out / POSTS).open("w", encoding="utf-8") as lines:
        async for batch in rows(archive, chosen):
            files = await archive.store.media.of_posts([r.post.id for r in batch])
            for row in batch:
                record = json_record(row)
                listed = []
                for f in files.get(row.post.id, []):
                    entry: dict[str, Any] = {"kind": f.kind, "mime": f.mime, "size": f.size,
                                             "state": f.state, "sha256": f.sha256, "file": None}
                    if f.sha256 is not None and f.ext is not None:
                        entry["file"] = copied.get(f.sha256) or _copy(media, f.sha256, f.ext,
                                                                        out, copied)
                    if entry["file"] is None:
                        missing += 1
                    listed.append(entry)
                record["media"] = listed
                lines.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                posts += 1
            if progress is not None:
                progress(len(batch))
    info = {"format": FORMAT, "created_at": to_iso(now), **about, "posts": posts,
            "files": len(copied), "missing_files": missing}
    (out / ABOUT).write_text(json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True)
                             + "\n", encoding="utf-8")
    manifest = "".join(f"{sha256_of(out / path)}  {path}\n" for path in _files(out))
    (out / MANIFEST).write_text(manifest, encoding="utf-8")
    bundle_sha = hashlib.sha256(manifest.encode("utf-8")).hexdigest()
    (out / BUNDLE).write_text(f"{bundle_sha}  {MANIFEST}\n", encoding="utf-8")
    size = sum((out / p).stat().st_size for p in _files(out))
    return BundleSummary(posts, len(copied), size, missing, bundle_sha)


def _start(target: Path) -> Path:
    """The empty DIR.partial the bundle is written into (a leftover of a crash is removed)."""
    if target.exists():
        raise BundleError(f"{target} exists already; name a new directory")
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    (partial / "media").mkdir(parents=True)
    return partial


def _copy(media: MediaFiles, sha256: str, ext: str, out: Path,
          copied: dict[str, str]) -> str | None:
    """Copy a stored file into the bundle (checking its bytes); its bundle path, or None."""
    source = media.path(sha256, ext)
    if not source.is_file():
        return None
    rel = f"media/{sha256[:2]}/{sha256}.{ext}"
    dest = out / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    if sha256_of(dest) != sha256:  # the store's copy was altered: never pass it on as evidence
        dest.unlink()
        raise BundleError(f"the stored file {source} does not hash to its name; the media"
                          " store is damaged")
    copied[sha256] = rel
    return rel


def _files(root: Path) -> list[str]:
    """Every file of the bundle but the manifest and the bundle description, sorted."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            if rel not in (MANIFEST, BUNDLE):
                found.append(rel)
    return sorted(found)


def verify_bundle(root: Path, expect: str | None = None) -> Verification:
    """Re-hash every file the manifest lists; report changed, missing and extra files, and
    whether the manifest's hash is the one BUNDLE.sha256 (and ``expect``, if given) names."""
    if not (root / MANIFEST).is_file():
        raise BundleError(f"{root} holds no {MANIFEST}: not a chanwatch evidence bundle")
    result = Verification()
    manifest = (root / MANIFEST).read_bytes()
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.decode("utf-8", "replace").splitlines(), 1):
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or not path:
            raise BundleError(f"{MANIFEST} line {number} is not '<sha256>  <path>'")
        if path.startswith("/") or ".." in Path(path).parts:
            raise BundleError(f"{MANIFEST} line {number} names a file outside the bundle")
        listed[path] = digest
    for path, digest in sorted(listed.items()):
        file = root / path
        if not file.is_file():
            result.missing.append(path)
            continue
        result.checked += 1
        if sha256_of(file) != digest:
            result.changed.append(path)
    result.extra = [p for p in _files(root) if p not in listed]
    result.bundle_sha256 = hashlib.sha256(manifest).hexdigest()
    try:
        written = (root / BUNDLE).read_text(encoding="utf-8").split()[:1]
    except (OSError, ValueError):
        written = []
    result.bundle_ok = written == [result.bundle_sha256] and (
        expect is None or expect.strip().lower() == result.bundle_sha256)
    return result
