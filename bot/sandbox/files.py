"""Files the fake Telegram serves: photos and documents with real bytes, and their references.

Telegram hands out a photo or document together with a *file reference*, an opaque token that
``upload.getFile`` requires and that expires after a while; whoever downloads late gets
FILE_REFERENCE_EXPIRED and must read the message again for a fresh one. The World keeps each
file's bytes here (posted by a test, or uploaded by an account), serves them in parts with
Telegram's checks on offset and limit, and lets a test expire a reference
(``expire_file_reference``): the messages it stores then carry the new one, while updates
already pushed keep the old.
"""

from __future__ import annotations

import copy
import io
import itertools
from dataclasses import dataclass, field
from typing import Any

from telethon.tl import types as tl

from bot.sandbox.entities import access_hash, now
from bot.sandbox.state import WorldState

_MB = 1 << 20
_THUMB_SIDE = 90  # the "m"-ish small size Telegram adds to every photo, here 90 px
_FIRST_FILE_ID = 5_000_000_000_000


@dataclass
class StoredFile:
    """One photo or document: its bytes per size, its current and its expired references."""

    id: int
    kind: str  # photo | document
    mime_type: str
    sizes: dict[str, bytes]  # photo size type ("s", "x") -> bytes; a document "" (and "m":
    # its thumbnail, a video's first frame)
    dims: dict[str, tuple[int, int]]
    reference: bytes
    expired: set[bytes] = field(default_factory=set)
    requests: int = 0  # upload.getFile requests answered (parts served)

    @property
    def data(self) -> bytes:
        """The full file (a photo's largest size)."""
        if "" in self.sizes:
            return self.sizes[""]
        return self.sizes[max(self.sizes, key=lambda t: len(self.sizes[t]))]


def _read_image(data: bytes) -> tuple[tuple[int, int], tuple[bytes, tuple[int, int]] | None]:
    """An image's width and height, and a small JPEG of it (Telegram's thumbnail size) with its
    own, if it is larger than that; ((0, 0), None) for what Pillow cannot read."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            dims = int(img.width), int(img.height)
            if max(dims) <= _THUMB_SIDE:
                return dims, None
            small = img.convert("RGB")
        small.thumbnail((_THUMB_SIDE, _THUMB_SIDE))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=70)
        return dims, (out.getvalue(), (small.width, small.height))
    except Exception:
        return (0, 0), None


class FileServing(WorldState):
    """The World's stored files (mixed into World)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[int, StoredFile] = {}
        self._file_ids = itertools.count(_FIRST_FILE_ID)
        self._references = itertools.count(1)

    def _new_reference(self) -> bytes:
        return b"ref" + next(self._references).to_bytes(8, "big")

    def store_photo(self, data: bytes, *, file_id: int | None = None) -> tl.Photo:
        """Keep an image's bytes (and a thumbnail) and return the Photo a message carries."""
        photo_id = file_id if file_id is not None else next(self._file_ids)
        full, thumb = _read_image(data)
        sizes, dims = {"x": data}, {"x": full}
        if thumb is not None and len(thumb[0]) < len(data):  # Telethon takes the most bytes
            sizes["s"], dims["s"] = thumb
        stored = StoredFile(photo_id, "photo", "image/jpeg", sizes, dims, self._new_reference())
        self.files[photo_id] = stored
        return self._photo(stored)

    def store_document(self, data: bytes, mime_type: str, attributes: list[Any], *,
                       file_id: int | None = None, thumb: bytes | None = None) -> tl.Document:
        """Keep a document's bytes (and its thumbnail: a video's first frame, as Telegram's
        apps make it) and return the Document a message carries."""
        doc_id = file_id if file_id is not None else next(self._file_ids)
        sizes, dims = {"": data}, {}
        if thumb is not None:
            sizes["m"], dims["m"] = thumb, _read_image(thumb)[0]
        stored = StoredFile(doc_id, "document", mime_type, sizes, dims, self._new_reference())
        self.files[doc_id] = stored
        return self._document(stored, attributes)

    def _photo(self, stored: StoredFile) -> tl.Photo:
        sizes = [tl.PhotoSize(type=t, w=stored.dims[t][0], h=stored.dims[t][1],
                              size=len(stored.sizes[t]))
                 for t in sorted(stored.sizes, key=lambda t: len(stored.sizes[t]))]
        return tl.Photo(id=stored.id, access_hash=access_hash(stored.id),
                        file_reference=stored.reference, date=now(), sizes=sizes, dc_id=2)

    def _document(self, stored: StoredFile, attributes: list[Any]) -> tl.Document:
        thumbs = [tl.PhotoSize(type="m", w=stored.dims["m"][0], h=stored.dims["m"][1],
                               size=len(stored.sizes["m"]))] if "m" in stored.sizes else None
        return tl.Document(id=stored.id, access_hash=access_hash(stored.id),
                           file_reference=stored.reference, date=now(),
                           mime_type=stored.mime_type, size=len(stored.data), dc_id=2,
                           attributes=list(attributes), thumbs=thumbs)

    def sent_photo(self, ref: Any) -> tuple[tl.Photo, bytes]:
        """A photo sent again by reference (InputPhoto), after Telegram's checks; ValueError:
        its error (an expired or unknown reference)."""
        stored = self.files.get(ref.id)
        if stored is None or stored.kind != "photo" or ref.access_hash != access_hash(stored.id):
            raise ValueError("MEDIA_EMPTY")
        if ref.file_reference != stored.reference:
            raise ValueError("FILE_REFERENCE_EXPIRED" if ref.file_reference in stored.expired
                             else "FILE_REFERENCE_INVALID")
        return self._photo(stored), stored.sizes["x"]

    def expire_file_reference(self, file_id: int) -> bytes:
        """The file's reference expires; channel messages carry the new one (returned)."""
        stored = self.files[file_id]
        stored.expired.add(stored.reference)
        stored.reference = self._new_reference()
        for ch in self.channels.values():
            for msg_id, msg in ch.messages.items():
                media: Any = getattr(msg, "media", None)
                attr = ("photo" if isinstance(media, tl.MessageMediaPhoto) else "document"
                        if isinstance(media, tl.MessageMediaDocument) else None)
                inner = getattr(media, attr, None) if attr else None
                if attr and inner is not None and getattr(inner, "id", None) == file_id:
                    fresh_inner = copy.copy(inner)
                    fresh_inner.file_reference = stored.reference
                    fresh_media = copy.copy(media)
                    setattr(fresh_media, attr, fresh_inner)
                    fresh = copy.copy(msg)
                    fresh.media = fresh_media
                    ch.messages[msg_id] = fresh
        return stored.reference

    def file_part(self, location: Any, offset: int, limit: int, precise: bool) -> bytes:
        """The bytes upload.getFile answers, after Telegram's checks (ValueError: its error)."""
        if isinstance(location, tl.InputPhotoFileLocation):
            stored = self.files.get(location.id)
            size_type = location.thumb_size
            if stored is None or stored.kind != "photo" or size_type not in stored.sizes:
                raise ValueError("LOCATION_INVALID")
        elif isinstance(location, tl.InputDocumentFileLocation):
            stored = self.files.get(location.id)
            size_type = location.thumb_size or ""
            if stored is None or stored.kind != "document" or size_type not in stored.sizes:
                raise ValueError("LOCATION_INVALID")
        else:
            raise ValueError("LOCATION_INVALID")
        if location.access_hash != access_hash(stored.id):
            raise ValueError("LOCATION_INVALID")
        if location.file_reference != stored.reference:
            raise ValueError("FILE_REFERENCE_EXPIRED" if location.file_reference
                             in stored.expired else "FILE_REFERENCE_INVALID")
        # https://core.telegram.org/api/files: limit a multiple of 4 KB dividing 1 MB, offset
        # a multiple of 4 KB, and a part never crosses a 1 MB boundary (precise: 1 KB steps)
        step = 1024 if precise else 4096
        if limit <= 0 or limit > _MB or limit % step or (not precise and _MB % limit):
            raise ValueError("LIMIT_INVALID")
        if offset < 0 or offset % step or offset // _MB != (offset + limit - 1) // _MB:
            raise ValueError("OFFSET_INVALID")
        stored.requests += 1
        return stored.sizes[size_type][offset:offset + limit]
