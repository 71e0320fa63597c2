"""The gazetteer shipped with chanwatch: places of Ukraine and Russia with their names.

Built by scripts/build_gazetteer.py into bot/regions/data/gazetteer.jsonl.gz (sources and
licences: bot/regions/data/ATTRIBUTION.md). Loading takes about a second; the app loads it once.
"""

from __future__ import annotations

import difflib
import gzip
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bot.match.normalize import normalize_word
from bot.match.translit import latin_forms

DATA = Path(__file__).resolve().parent / "data" / "gazetteer.jsonl.gz"
_KIND_RANK = {"region": 0, "raion": 1, "hromada": 2, "settlement": 3, "district": 4}


@dataclass(frozen=True)
class Place:
    """One place: a first-level region, a raion, a hromada, a settlement or a city's district."""

    id: str
    kind: str
    parent: str | None
    region: str  # ISO 3166-2 code of its first-level region
    ru: tuple[str, ...]
    uk: tuple[str, ...]
    en: tuple[str, ...]
    historic: tuple[str, ...]
    population: int | None
    lat: float | None = None
    lon: float | None = None

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every name, in every language, historic ones included."""
        return (*self.ru, *self.uk, *self.en, *self.historic)

    def display(self, lang: str = "ru") -> str:
        """The name to show (ru, uk or en, whichever exists first)."""
        order = {"ru": (self.ru, self.uk, self.en), "uk": (self.uk, self.ru, self.en),
                 "en": (self.en, self.ru, self.uk)}[lang]
        for names in order:
            if names:
                return names[0]
        return self.id


class Gazetteer:
    """Places by id, with their children and a name lookup."""

    def __init__(self, places: list[Place]) -> None:
        self.places = {p.id: p for p in places}
        self.children: dict[str, list[str]] = defaultdict(list)
        for place in places:
            if place.parent:
                self.children[place.parent].append(place.id)
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for place in places:
            for name in {normalize_word(n) for n in place.all_names}:
                self._by_name[name].append(place.id)
        self._codes = {p.id.lower(): p.id for p in places if p.kind == "region"}

    @classmethod
    def load(cls, path: Path = DATA) -> Gazetteer:
        """Read the shipped file."""
        places = []
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                names = row.get("names") or {}
                places.append(Place(
                    id=row["id"], kind=row["kind"], parent=row.get("parent"),
                    region=row["region"], ru=tuple(names.get("ru") or ()),
                    uk=tuple(names.get("uk") or ()), en=tuple(names.get("en") or ()),
                    historic=tuple(row.get("historic") or ()),
                    population=row.get("population"), lat=row.get("lat"), lon=row.get("lon"),
                ))
        return cls(places)

    def region_of(self, place_id: str) -> Place:
        """The first-level region a place lies in."""
        return self.places[self.places[place_id].region]

    def descendants(self, place_id: str) -> set[str]:
        """The place and everything inside it."""
        out, todo = set(), [place_id]
        while todo:
            current = todo.pop()
            if current not in out:
                out.add(current)
                todo.extend(self.children.get(current, ()))
        return out

    def lookup(self, query: str) -> list[Place]:
        """Places named exactly so (any language, any spelling, ISO code), biggest first."""
        raw = query.strip().strip('"«»')
        code = self._codes.get(raw.lower())
        if code:
            return [self.places[code]]
        key = normalize_word(raw)
        ids = list(self._by_name.get(key, ()))
        if not ids and key.isascii():
            # a Latin query against names only stored in Cyrillic
            ids = [pid for name, pids in self._by_name.items()
                   if not name.isascii() and key in latin_forms(name) for pid in pids]
        return self._ranked(ids)

    def names_of(self, name: str) -> list[str]:
        """Every name (any language, historic ones too) of the places called exactly so."""
        ids = self._by_name.get(normalize_word(name.strip()), ())
        return list(dict.fromkeys(n for pid in ids for n in self.places[pid].all_names))

    def fuzzy(self, query: str, limit: int = 5) -> list[Place]:
        """Closest names for a query with typos (difflib ratio), biggest places first."""
        exact = self.lookup(query)
        if exact:
            return exact[:limit]
        key = normalize_word(query.strip())
        close = difflib.get_close_matches(key, list(self._by_name), n=limit * 3, cutoff=0.75)
        ids = [pid for name in close for pid in self._by_name[name]]
        return self._ranked(ids)[:limit]

    def _ranked(self, ids: list[str]) -> list[Place]:
        unique = list(dict.fromkeys(ids))
        places = [self.places[i] for i in unique]
        return sorted(places, key=lambda p: (_KIND_RANK.get(p.kind, 9), -(p.population or 0)))


class PlaceLookupError(ValueError):
    """A place name could not be resolved to exactly one place."""

    def __init__(self, message: str, candidates: list[Place]) -> None:
        super().__init__(message)
        self.candidates = candidates


def _region_stem(region: Place) -> set[str]:
    """"Belgorod" for Belgorod Oblast: names a region is called after (its main city)."""
    stems = set()
    for name in region.en:
        words = name.split()
        if len(words) == 2 and words[1].lower() in {"oblast", "krai", "region", "province"}:
            stems.add(normalize_word(words[0]))
    return stems


def resolve(gazetteer: Gazetteer, query: str) -> Place:
    """The one place a rule means by ``query``; PlaceLookupError with candidates otherwise.

    An ISO code or a region's own name means the region; a city a region is named after
    (region:belgorod, region:Харьков) means the whole region; a name several places share in
    different regions is ambiguous.
    """
    raw = query.strip().strip('"«»')
    if raw in gazetteer.places:
        return gazetteer.places[raw]
    found = gazetteer.lookup(raw)
    if not found:
        close = gazetteer.fuzzy(raw, limit=5)
        hint = ", ".join(f"{p.display()} ({p.region})" for p in close)
        raise PlaceLookupError(f"no place called {raw!r} is known"
                               + (f"; did you mean {hint}?" if hint else ""), close)
    regions = [p for p in found if p.kind == "region"]
    if regions:
        return regions[0]
    key = normalize_word(raw)
    for place in found:
        region = gazetteer.places[place.region]
        named_after = _region_stem(region)
        if key in named_after or latin_forms(key) & named_after:
            return region
    if len({p.region for p in found}) > 1 and len(found) > 1:
        shown = "; ".join(f"{p.display()} — {gazetteer.places[p.region].display()}"
                          f" [{p.id}]" for p in found[:6])
        raise PlaceLookupError(f"several places are called {raw!r}: {shown}", found)
    return found[0]
