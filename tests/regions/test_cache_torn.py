"""A torn or foreign compiled-gazetteer cache is rebuilt, never an error at start."""

from __future__ import annotations

from pathlib import Path

from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher


def test_a_garbage_cache_file_is_rebuilt(tmp_path: Path, lemmatizer: Lemmatizer) -> None:
    first = PlaceMatcher.cached(lemmatizer, tmp_path)
    (cache,) = tmp_path.glob("places-*.pickle")
    cache.write_bytes(b"\x80\x05\xff not a pickle \xd0")  # what a torn write leaves
    again = PlaceMatcher.cached(lemmatizer, tmp_path)
    assert [h.place.id for h in again.find("Утром обстреляли Шебекино")] == [
        h.place.id for h in first.find("Утром обстреляли Шебекино")] != []
    assert cache.read_bytes()[:2] == b"\x80\x05" and len(cache.read_bytes()) > 1000
    assert list(tmp_path.glob("*.tmp")) == []
