"""Finding places in a post, with explicit rules for ambiguous names.

Names go through the same lemma keys as rule words, so every case form counts. A region's
adjective ("белгородский губернатор", "в Белгородской области") counts for the region.
Disambiguation (README: "How places are recognised"):

1. A settlement name must be written with a capital letter (a region adjective need not).
2. A name that is also a common word or a surname (Мирный, Счастье, Победа, Яр, Иванов) counts
   only with support: a preposition or marker of place right before it (в, под, у, возле, с.,
   село, пгт …), or its region (or another place of that region) named in the same post.
3. A name shared by several places counts for the one whose region is supported by the rest of
   the post; otherwise for the only region they all share; otherwise for a place at least ten
   times bigger than every other; otherwise not at all.

PlaceMatcher is the PlaceFinder (bot.match.places) that the rule index uses for ``region:``
filters and place names: this package depends on bot.match, never the other way round.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bot import __version__
from bot.match.lemmas import Lemmatizer
from bot.match.names import NameSource
from bot.match.normalize import _CYRILLIC_RE, Token, normalize_word, tokenize
from bot.match.places import PlaceFinder, PlaceMention
from bot.regions.gazetteer import DATA, Gazetteer, Place, resolve

# Words right before a name that say "this is a settlement" (strong evidence).
PLACE_MARKERS = frozenset({
    "село", "селе", "села", "поселок", "поселке", "поселка", "пгт", "город", "городе",
    "города", "деревня", "деревне", "деревни", "хутор", "хуторе", "хутора", "станица",
    "станице", "селище", "селищі", "місто", "місті", "міста", "смт",
})
# Abbreviations that are markers only with their dot ("с. Мирное", not "с Китаем").
DOTTED_MARKERS = frozenset({"с", "г", "п", "пос", "сел", "нп", "д", "х", "ст"})
# A region adjective before these names a street, a station or a dish, not the region.
NOT_THE_REGION_AFTER = frozenset({
    "шоссе", "проспект", "улица", "переулок", "бульвар", "вокзал", "суд", "краб", "линия",
    "площадь", "набережная", "станция", "метро", "рынок", "парк", "театр", "университет",
})
# Adjectives shared by a city that is a region of its own and the oblast around it.
CLASHING_ADJECTIVES = frozenset({"московская", "ленинградская", "киевская", "київська",
                                 "севастопольская", "moscow", "kyiv", "leningrad"})
# "Москва заявила", "Киев отказался": the government, not the place.
METONYM_VERBS = frozenset({
    "заявить", "считать", "ответить", "отказаться", "потребовать", "предупредить",
    "пригрозить", "призвать", "обвинить", "настаивать", "признать", "отвергнуть",
    "выразить", "надеяться", "ожидать", "рассчитывать", "согласиться", "пояснить",
    "подчеркнуть", "опровергнуть", "осудить", "заявлять", "готовый", "намерен",
    "заявити", "відмовитися", "вимагати", "погрожувати", "звинуватити", "обвинять",
    "отрицать", "потерять", "должный", "требовать", "отказываться",
})
_CAPITAL_REGIONS = frozenset({"RU-MOW", "UA-30"})
# Regions whose adjective does not follow "<adjective> область" in their names.
EXTRA_ADJECTIVES = {"крымский": "UA-43", "кримський": "UA-43", "подмосковный": "RU-MOS"}
# Words for a region's people and features that count for it without a capital letter.
EXTRA_WORDS: dict[str, tuple[str, ...]] = {
    "москвич": ("RU-MOW",), "москвичка": ("RU-MOW",), "москва-река": ("RU-MOW",),
    "киевлянин": ("UA-30",), "киевлянка": ("UA-30",), "киянин": ("UA-30",),
    "петербуржец": ("RU-SPE",), "петербуржцы": ("RU-SPE",), "белгородец": ("RU-BEL",),
    "курянин": ("RU-KRS",), "брянец": ("RU-BRY",), "харьковчанин": ("UA-63",),
    "харків'янин": ("UA-63",), "одессит": ("UA-51",),
    # a region of two oblasts: counts for both
    "донбасс": ("UA-14", "UA-09"), "донбас": ("UA-14", "UA-09"),
}
# Verbs around a capital's name that make it the government: "передать Киеву", "Киев заявил".
METONYM_BEFORE = frozenset({"поставлять", "передать", "помогать", "предоставить", "обвинить",
                            "обвинять", "призвать", "поставить", "передавать"})
# "Подписаться на Москву — новостную": a channel's footer names the channel, not a place.
_SUBSCRIBE = frozenset({"подписаться", "подписывайся", "подпишись", "подписывайтесь",
                        "підписатися", "підписуйся", "підпишись"})
LATIN_NAMED = 10_000
BIG_PLACE = 50_000  # a Latin word naming a smaller place is too often something else (Slava)
# A village smaller than this whose name the dictionary knows as a place is probably named
# after a famous one (Китай, Берлин, Перу): it needs support like an ordinary word.
FAMOUS_ELSEWHERE = 3_000
_REGION_NOUNS = frozenset({"область", "край", "республика", "округ", "oblast", "region",
                           "krai"})
UK_COMMON_WORDS = frozenset({
    "щастя", "перемога", "мирне", "мирний", "прогрес", "жовтень", "яр", "мир", "дружба",
    "зоря", "зірка", "світанок", "надія", "слава", "свобода", "степове", "новий", "нове",
})


_SHARED: PlaceMatcher | None = None


def _dict_versions() -> str:
    versions = []
    for package in ("pymorphy3", "pymorphy3-dicts-ru", "pymorphy3-dicts-uk"):
        try:
            versions.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            versions.append("?")
    return ",".join(versions)


@dataclass(frozen=True)
class PlaceHit:
    """A place found in a text."""

    place: Place
    region: str
    start: int
    end: int
    text: str


@dataclass
class _Name:
    places: tuple[str, ...]
    rest: tuple[frozenset[str], ...]  # lemma keys of the following words of the name
    adjective: bool  # a region adjective (or demonym): no capital letter needed
    ambiguous_word: bool  # also a common word or a surname
    every_region: bool = False  # counts for all its places' regions (Донбасс)


@dataclass
class PlaceMatcher:
    """All place names of the gazetteer compiled into a lemma-keyed index."""

    gazetteer: Gazetteer
    lemmatizer: Lemmatizer
    _index: dict[str, list[_Name]] = field(default_factory=lambda: defaultdict(list))
    _cache: dict[tuple[str, bool], tuple[_Name, ...]] = field(default_factory=dict)
    _name_cache: dict[str, tuple[frozenset[str], bool, bool]] = field(default_factory=dict)

    @classmethod
    def shared(cls, lemmatizer: Lemmatizer) -> PlaceMatcher:
        """One process-wide matcher over the shipped gazetteer (tests, CLI tools)."""
        global _SHARED
        if _SHARED is None:
            _SHARED = cls.build(Gazetteer.load(), lemmatizer)
        return _SHARED

    @classmethod
    def cached(cls, lemmatizer: Lemmatizer, cache_dir: Path, path: Path = DATA) -> PlaceMatcher:
        """Load the compiled name index from ``cache_dir`` if it matches, else build and save.

        Compiling ~90k name words with pymorphy takes 5–12 s; the cache (keyed by the
        gazetteer file, chanwatch's and the dictionaries' versions) makes later starts fast.
        """
        gazetteer = Gazetteer.load(path)
        digest = hashlib.sha256(path.read_bytes())
        digest.update(f"{__version__}|{_dict_versions()}".encode())
        digest.update(Path(__file__).read_bytes())  # the matcher's own rules are compiled in
        cache = cache_dir / f"places-{digest.hexdigest()[:16]}.pickle"
        try:
            with cache.open("rb") as fh:
                index = pickle.load(fh)  # our own file in our own data directory
            matcher = cls(gazetteer, lemmatizer)
            matcher._index = index
            return matcher
        except Exception:  # missing, or torn or foreign bytes (pickle raises many kinds)
            pass
        matcher = cls.build(gazetteer, lemmatizer)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            for old in cache_dir.glob("places-*.pickle"):
                old.unlink(missing_ok=True)
            # one temporary file per process: two processes starting at once (the service
            # and `chanwatch web`) must not write into the same file
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                pickle.dump(matcher._index, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache)
        except OSError:
            pass  # no cache: the next start compiles again
        return matcher

    @classmethod
    def build(cls, gazetteer: Gazetteer, lemmatizer: Lemmatizer) -> PlaceMatcher:
        """Index every name of every place (and region adjectives)."""
        matcher = cls(gazetteer, lemmatizer)
        by_words: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for place in gazetteer.places.values():
            for name in set(place.all_names):
                words = tuple(t.norm for t in tokenize(name))
                if words:
                    by_words[words].append(place.id)
        adjectives: dict[str, set[str]] = defaultdict(set)
        for words, ids in by_words.items():
            places = tuple(dict.fromkeys(ids))
            matcher._add(words, places, adjective=False)
            for pid in places:
                place = gazetteer.places[pid]
                if place.kind == "region" and len(words) == 2 and words[1] in _REGION_NOUNS:
                    adjectives[words[0]].add(place.region)
        for adjective, region in EXTRA_ADJECTIVES.items():
            adjectives[adjective].add(region)
        for adjective, regions in adjectives.items():
            # "московский": the city or the oblast? then neither
            if len(regions) == 1 and adjective not in CLASHING_ADJECTIVES:
                matcher._add((adjective,), (next(iter(regions)),), adjective=True)
        for word, codes in EXTRA_WORDS.items():
            matcher._add((word,), codes, adjective=True, every_region=len(codes) > 1)
        return matcher

    def _add(self, words: tuple[str, ...], places: tuple[str, ...], adjective: bool,
             every_region: bool = False) -> None:
        first, *rest = words
        keys, known_other, geox = self._name_keys(first)
        kinds = [self.gazetteer.places[p] for p in places]
        biggest = max((p.population or 0) for p in kinds)
        ambiguous = False
        if len(words) == 1 and not adjective and not any(p.kind == "region" for p in kinds):
            # an ordinary word or a person's name; or a small place named like a famous one
            # (Китай, Берлин, Крым are villages too)
            # a big town named like an adjective (Раменское, Жуковский) is the town
            ambiguous = (known_other and biggest < BIG_PLACE) or (
                geox and biggest < FAMOUS_ELSEWHERE) or (first.isascii() and biggest < LATIN_NAMED)
        entry = _Name(places, tuple(self._name_keys(w)[0] for w in rest), adjective, ambiguous,
                      every_region)
        for key in keys:
            self._index[key].append(entry)

    def _name_keys(self, word: str) -> tuple[frozenset[str], bool, bool]:
        """Lemma keys of a name word, and whether it is also an ordinary word or a person.

        The Russian dictionary tags places (Geox): a name it knows only as something else
        (мирный, счастье, победа, яр, Иванов) is ambiguous. The Ukrainian dictionary has no
        such tag, so its common-word names are listed by hand. No Latin spellings are derived
        here: the gazetteer lists the Latin names itself.
        """
        cached = self._name_cache.get(word)
        if cached is not None:
            return cached
        if not _CYRILLIC_RE.search(word):
            result = (frozenset({word}), False, False)
        else:
            ru, uk = self.lemmatizer.parses_by_language(word)
            known_ru = [p for p in ru if p.is_known]
            known = [p for p in (*ru, *uk) if p.is_known] or [*ru, *uk]
            lemmas = {normalize_word(p.normal_form) for p in known}
            keys = frozenset({word} if word in lemmas else lemmas | {word})
            geox = any("Geox" in p.tag.grammemes for p in known_ru)
            other = any("Geox" not in p.tag.grammemes for p in known_ru) \
                or word in UK_COMMON_WORDS
            result = (keys, other, geox)
        self._name_cache[word] = result
        return result

    # ------------------------------------------------------------------ finding
    def find(self, text: str, tokens: list[Token] | None = None,
             keys: list[frozenset[str]] | None = None) -> list[PlaceHit]:
        """Every place the text mentions, after disambiguation."""
        tokens = tokenize(text) if tokens is None else tokens
        if keys is None:
            keys = [self.lemmatizer.keys(t.norm, t.proper) for t in tokens]
        raw: list[tuple[int, int, _Name]] = []
        count = len(tokens)
        for pos, token in enumerate(tokens):
            names = self._cache.get((token.norm, token.proper))
            if names is None:
                if len(self._cache) > 300_000:
                    self._cache.clear()
                seen: dict[int, _Name] = {}
                # A Cyrillic word is looked up by its Cyrillic keys only: the Latin spellings
                # derived from an inflected form ("Курске" → kurske) would hit the English
                # names of other places (Kurske, a village in Crimea).
                cyrillic = not token.norm.isascii()
                # both readings: "Крымском" is the town Крымск to the dictionary, and the
                # adjective крымский too
                readings = keys[pos] | self.lemmatizer.keys(token.norm) if token.proper \
                    else keys[pos]
                for key in readings:
                    if cyrillic and key.isascii():
                        continue
                    for name in self._index.get(key, ()):
                        seen[id(name)] = name
                names = self._cache[(token.norm, token.proper)] = tuple(seen.values())
            if not names:
                continue
            capital = text[token.start].isupper()
            for name in names:
                if not (capital or name.adjective):
                    continue
                rest = name.rest
                end = pos + len(rest)
                if rest and (end >= count or keys[pos + 1].isdisjoint(rest[0]) or any(
                        keys[pos + 1 + k].isdisjoint(want) for k, want in enumerate(rest) if k)):
                    continue
                word = text[tokens[pos].start:tokens[pos].end]
                if word.isupper() and len(word) <= 4 and not self._is_region(name):
                    continue  # an abbreviation (ИСС, МЧС), unless it names a region (ДНР)
                raw.append((pos, end, name))
        return self._resolve(text, tokens, raw)

    def _metonym(self, tokens: list[Token], pos: int, end: int) -> bool:
        after = end + 1 < len(tokens) and bool(
            self.lemmatizer.keys(tokens[end + 1].norm) & METONYM_VERBS)
        before = pos > 0 and bool(self.lemmatizer.keys(tokens[pos - 1].norm) & METONYM_BEFORE)
        return after or before

    def _is_region(self, name: _Name) -> bool:
        return any(self.gazetteer.places[p].kind == "region" for p in name.places)

    def _resolve(self, text: str, tokens: list[Token],
                 raw: list[tuple[int, int, _Name]]) -> list[PlaceHit]:
        gaz = self.gazetteer
        # longest names first ("Белгородская область" beats the adjective inside it); for the
        # same words an unambiguous name beats an ambiguous one and a region beats the rest
        # — and, for two names of the same words (a city and a namesake village spelled
        # alike), the one with the biggest place, then by ids: never the order of a hash set
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0]), not r[2].every_region,
                                r[2].ambiguous_word, not self._is_region(r[2]),
                                -max((gaz.places[p].population or 0) for p in r[2].places),
                                sorted(r[2].places)))
        taken: set[int] = set()
        chosen: list[tuple[int, int, _Name]] = []
        for pos, end, name in raw:
            if any(p in taken for p in range(pos, end + 1)):
                continue
            taken.update(range(pos, end + 1))
            chosen.append((pos, end, name))
        certain_regions: set[str] = set()
        for _pos, _end, name in chosen:
            regions = {gaz.places[p].region for p in name.places}
            if len(regions) == 1 and not name.ambiguous_word:
                certain_regions |= regions
        hits: list[PlaceHit] = []
        for pos, end, name in chosen:
            places = [gaz.places[p] for p in sorted(name.places)]
            marked = pos > 0 and (tokens[pos - 1].norm in PLACE_MARKERS or (
                tokens[pos - 1].norm in DOTTED_MARKERS
                and text[tokens[pos - 1].end:tokens[pos - 1].end + 1] == "."))
            if name.adjective and end + 1 < len(tokens) and self.lemmatizer.keys(
                    tokens[end + 1].norm) & NOT_THE_REGION_AFTER:
                continue
            # ambiguous names never count as support (certain_regions), so none supports itself
            supported = [p for p in places if p.region in certain_regions]
            regions = {p.region for p in places}
            if name.ambiguous_word and not (marked or supported):
                continue
            if pos > 1 and tokens[pos - 1].norm == "на" and tokens[pos - 2].norm in _SUBSCRIBE:
                continue
            if name.every_region:
                for place in places:
                    start, stop = tokens[pos].start, tokens[end].end
                    hits.append(PlaceHit(place, place.region, start, stop, text[start:stop]))
                continue
            top = [p for p in places if p.kind == "region"]
            if top:
                places = top[:1]
            if places[0].region in _CAPITAL_REGIONS and len(places) == 1 and self._metonym(
                    tokens, pos, end):
                continue  # "Москва заявила": the government speaks, nothing happens there
            if pos > 1 and tokens[pos - 1].norm == "по" and tokens[pos - 2].norm.isdigit():
                continue  # "в 10:00 по Москве": Moscow time
            if len(places) > 1:
                if supported and len({p.region for p in supported}) == 1:
                    places = supported
                elif len(regions) == 1:
                    pass
                else:
                    biggest = max(places, key=lambda p: p.population or 0)
                    others = max((p.population or 0) for p in places if p is not biggest)
                    if (biggest.population or 0) < 10 * max(others, 1):
                        continue
                    places = [biggest]
            place = min(places, key=lambda p: (p.kind != "region", -(p.population or 0)))
            start, stop = tokens[pos].start, tokens[end].end
            hits.append(PlaceHit(place, place.region, start, stop, text[start:stop]))
        return hits

    def regions(self, text: str) -> list[str]:
        """ISO codes of the first-level regions a text mentions, sorted."""
        return sorted({hit.region for hit in self.find(text)})

    # ------------------------------------------------------------------ PlaceFinder
    @property
    def names(self) -> NameSource:
        """The gazetteer: the names that rule words may form."""
        return self.gazetteer

    def mentions(self, text: str, tokens: list[Token],
                 keys: list[frozenset[str]]) -> list[PlaceMention]:
        """The places ``find`` sees, as the rule index shows them in alerts."""
        places = self.gazetteer.places
        return [PlaceMention(hit.start, hit.end, hit.place.id, hit.place.display(),
                             places[hit.region].display("en"))
                for hit in self.find(text, tokens, keys)]

    def places_in(self, query: str) -> frozenset[str]:
        """The place a rule's ``region:`` names and all inside it (PlaceLookupError if none)."""
        return frozenset(self.gazetteer.descendants(resolve(self.gazetteer, query).id))


def _is_a_place_finder(matcher: PlaceMatcher) -> PlaceFinder:
    """Where mypy checks that PlaceMatcher implements PlaceFinder (called by a test only)."""
    return matcher
