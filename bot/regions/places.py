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
import math
import os
import pickle
import re
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
    "проезд", "тупик", "вал", "спуск", "тракт",
})
# Adjectives shared by a city that is a region of its own and the oblast around it.
CLASHING_ADJECTIVES = frozenset({"московская", "ленинградская", "киевская", "київська",
                                 "севастопольская", "moscow", "kyiv", "leningrad"})
# The adjective of a city that is a region of its own counts for the city ("московской
# больницы" → RU-MOW, rule 16 of the labelling rules); in a list of regions' adjectives it is
# the oblast ("в Киевской, Одесской и Днепропетровской областях"); "московский регион" is both.
CITY_ADJECTIVES = {"московская": "RU-MOW", "киевская": "UA-30", "київська": "UA-30",
                   "севастопольская": "UA-40"}
CITY_OBLAST = {"RU-MOW": "RU-MOS", "UA-30": "UA-32", "UA-40": "UA-43", "RU-SPE": "RU-LEN"}
# "киевский режим", "Киевская Русь": not the city
NOT_THE_CITY_AFTER = frozenset({"режим", "русь", "сторона", "хунта", "патриархат", "главарь",
                                "неонацист", "политик"})
# Nouns of a city's parts and people: a capital after them is the place ("улицах Киева").
PARTS_OF_A_PLACE = frozenset({
    "улица", "житель", "центр", "окраина", "небо", "район", "мэр", "мэрия", "пригород",
    "окрестность", "площадь", "метро", "аэропорт", "вокзал", "горожанин", "гость", "север",
    "юг", "восток", "запад", "здание", "дом", "квартира", "школа", "больница", "набережная",
    "вулиця", "мешканець", "околиця", "мер",
})
# Words before a capital that make it the one who gets or holds: "для Киева", "со стороны
# Киева", "под контролем Киева" (not "от" or "у": "в 50 км от Москвы", "бои у Киева" are places).
_FOR_WHOM = frozenset({"для", "стороны", "контролем"})
# Words before a capital in the dative that make it the government ("подконтрольной Киеву").
CONTROLLED_BY = frozenset({"подконтрольный", "подконтролен", "лояльный", "верный", "союзный",
                           "враждебный", "подконтрольна"})
# Prepositions of what states do to each other ("давление на", "отношения с"), not of place
_TOWARDS = frozenset({"на", "с", "со", "против", "к", "для", "з", "проти"})
_BARE_OBLAST = frozenset({"область", "области", "областью", "областям", "областях", "обл"})
_LIST_WORDS = frozenset({"и", "та", "і", "й", "или"})
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
# The adjectives of big cities whose region is named otherwise ("казанский суд" → RU-TA,
# "питерский «Зенит»" → RU-SPE: rule 1 of tests/data/REGIONS_LABELLING.md) count likewise.
EXTRA_ADJECTIVES = {
    "крымский": "UA-43", "кримський": "UA-43", "подмосковный": "RU-MOS",
    "питерский": "RU-SPE", "петербургский": "RU-SPE", "кузбасский": "RU-KEM",
    "казанский": "RU-TA", "екатеринбургский": "RU-SVE", "уфимский": "RU-BA",
    "сочинский": "RU-KDA", "новороссийский": "RU-KDA", "владивостокский": "RU-PRI",
    "тольяттинский": "RU-SAM", "норильский": "RU-KYA", "сургутский": "RU-KHM",
    "магнитогорский": "RU-CHE", "махачкалинский": "RU-DA", "грозненский": "RU-CE",
    "якутский": "RU-SA", "симферопольский": "UA-43", "ялтинский": "UA-43",
    "керченский": "UA-43", "мариупольский": "UA-14", "горловский": "UA-14",
    "криворожский": "UA-12", "дніпровський": "UA-12", "криворізький": "UA-12",
    "маріупольський": "UA-14", "ялтинський": "UA-43", "сімферопольський": "UA-43",
}
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
# The people and features of the city-regions (москвич, киевлянин, Москва-река): never the
# oblast in a list
_CITY_WORDS = frozenset(w for w, codes in EXTRA_WORDS.items() if set(codes) <= CITY_OBLAST.keys())
# Nouns of what states do, before a capital in the genitive: "поддержка Киева", "позиция Москвы".
METONYM_NOUNS = frozenset({
    "поддержка", "позиция", "решение", "ответ", "просьба", "требование", "заявление", "отказ",
    "приглашение", "сотрудничество", "отношение", "переговоры", "готовность", "предложение",
    "согласие", "намерение", "обвинение", "претензия", "интерес", "политика", "руководство",
    "союзник", "партнёр", "партнер", "помощь", "поставка", "санкция", "вступление", "членство",
    "признание", "давление", "представитель", "делегация", "правительство",
    "подтверждение", "реакция", "условие", "уступка", "согласование", "участие", "действие",
    "влияние", "диалог", "контакт", "конфликт", "война", "спор", "сделка", "договорённость",
    "підтримка", "позиція", "рішення", "відповідь", "вимога", "заява", "відмова", "запрошення",
    "співпраця", "переговори", "готовність", "пропозиція", "допомога", "постачання",
})
# Verbs of telling and asking whose subject, after them at a clause's end, is the government
SAID_BY = frozenset({"просить", "сообщить", "сообщать", "объявить", "попросить", "пообещать",
                     "обещать", "добиваться", "добиться", "повідомити", "заявляти"})
# Verbs whose subject a city is as a place ("Киев подвергся атаке", "Москва встретила снег").
HAPPENS_TO_A_CITY = frozenset({
    "подвергнуться", "подвергаться", "погрузиться", "остаться", "оказаться", "стать",
    "встретить", "принять", "провести", "проводить", "принимать", "лишиться",
    "утонуть", "засыпать", "готовиться", "проснуться", "пострадать", "находиться", "занять",
    "войти", "попасть", "зазвучать", "загореться", "украситься", "отметить", "праздновать",
    "відзначити", "зазнати", "опинитися", "залишитися", "стати", "прийняти", "отримати",
})
# Verbs around a capital's name that make it the government: "передать Киеву", "Киев заявил".
METONYM_BEFORE = frozenset({"поставлять", "передать", "помогать", "предоставить", "обвинить",
                            "обвинять", "призвать", "поставить", "передавать"})
# "Подписаться на Москву — новостную": a channel's footer names the channel, not a place.
_SUBSCRIBE = frozenset({"подписаться", "подписывайся", "подпишись", "подписывайтесь",
                        "підписатися", "підписуйся", "підпишись"})
LATIN_NAMED = 20_000  # a Latin word naming a smaller town is mostly a brand or a nickname (Kez)
# A settlement smaller than this (or of unknown size: most villages) counts only with local
# evidence — a settlement marker, its region or another of its region's places in the post —
# unless the Russian dictionary knows its name as a place (Грайворон, Суджа, Глушково).
SMALL_PLACE = 10_000
# A name shared by places of different regions, none supported by the post, is the biggest
# when it is this many times bigger than every namesake (Ростов-на-Дону over the other Ростов;
# 5 was measured: "Владимир" is then the city in "Владимир Зеленский" too).
BIGGER_BY = 10
# A village this close to a place the post names for sure is supported by it, across an oblast
# border ("Станіслав – Миколаїв – Очаків": Станіслав, Kherson oblast, 20 km from Очаків).
NEAR_KM = 100
# Words right before a surname: a title, a rank or a role ("генерал Купин", "педиатр Буянова").
PERSON_TITLES = frozenset({
    "генерал", "полковник", "подполковник", "майор", "капитан", "лейтенант", "сержант",
    "адмирал", "маршал", "министр", "замминистра", "президент", "премьер", "депутат", "сенатор",
    "мэр", "губернатор", "глава", "председатель", "директор", "посол", "судья", "прокурор",
    "адвокат", "врач", "педиатр", "профессор", "академик", "писатель", "поэт", "актёр",
    "актер", "актриса", "певец", "певица", "режиссёр", "режиссер", "художник", "журналист",
    "блогер", "телеведущий", "ведущий", "тренер", "футболист", "хоккеист", "боксёр", "боксер",
    "бизнесмен", "олигарх", "миллиардер", "экс-министр", "экс-губернатор", "господин",
    "госпожа", "генерал-лейтенант", "генерал-майор", "генерал-полковник", "сын", "дочь",
    "вдова", "жена", "муж", "брат", "сестра",
    "міністр", "мер", "голова", "суддя", "лікар", "письменник", "актор", "співак", "співачка",
    "журналіст",
})
# What a quoted place name names when it is not the place («Валдай» after "клуба").
THING_NOUNS = frozenset({
    "клуб", "канал", "телеканал", "радиостанция", "радио", "газета", "журнал", "издание",
    "агентство", "компания", "фирма", "бренд", "марка", "завод", "фабрика", "ракета",
    "комплекс", "крейсер", "корабль", "судно", "катер", "подлодка", "самолёт", "самолет",
    "фк", "хк", "команда", "ансамбль", "группа", "фестиваль", "форум", "операция", "проект",
    "жк", "кафе", "ресторан", "магазин", "тц", "трц", "отель", "гостиница", "банк", "поток",
    "газопровод", "трубопровод", "холдинг", "концерн", "фонд", "партия", "движение",
    "метро", "станция", "станція", "платформа",
})
_ORDINAL_RE = re.compile(r"^\d+-?(?:й|я|е|го|ей|ю|ой|м|ий|а)$")
# Words right before a region's adjective that make it a street's or a station's name.
STREET_BEFORE = frozenset({
    "большой", "малый", "нижний", "верхний", "старый", "новый", "улица", "проспект", "шоссе",
    "метро", "станция", "платформа", "переулок", "площадь", "набережная", "вулиця", "станція",
})
# Nouns after which a name in the genitive is an eponym: "парк Горького", "улица Мира".
EPONYM_AFTER = frozenset({
    "парк", "улица", "проспект", "площадь", "переулок", "бульвар", "набережная", "проезд",
    "имя", "им", "сквер", "аллея", "вулиця", "площа", "провулок", "метро", "станция",
    "платформа", "станція",
    "ім'я", "ім", "імені",
})
_CASES = frozenset({"nomn", "gent", "datv", "accs", "ablt", "loct", "voct", "gen2", "acc2",
                    "loc2"})
_NUMBERS = frozenset({"sing", "plur"})
# Characters that may stand between a sentence's end and its first word (markup, emoji, quotes)
_SENTENCE_END = frozenset(".!?…:\n")
BIG_PLACE = 50_000  # a Latin word naming a smaller place is too often something else (Slava)
# A village smaller than this whose name the dictionary knows as a place is probably named
# after a famous one (Китай, Берлин, Перу): it needs support like an ordinary word.
FAMOUS_ELSEWHERE = 3_000
_REGION_NOUNS = frozenset({"область", "край", "республика", "округ", "oblast", "region",
                           "krai"})
# After a place named like an adjective, these make it the place ("Жуковский район").
_PLACE_NOUNS = PLACE_MARKERS | _REGION_NOUNS | {"район", "округ", "громада", "селище", "округа"}
UK_COMMON_WORDS = frozenset({
    "щастя", "перемога", "мирне", "мирний", "прогрес", "жовтень", "яр", "мир", "дружба",
    "зоря", "зірка", "світанок", "надія", "слава", "свобода", "степове", "новий", "нове",
})


_SHARED: PlaceMatcher | None = None


FOREIGN = DATA.parent / "foreign.tsv"


def _foreign_names() -> list[tuple[tuple[str, ...], int]]:
    """Countries and big foreign cities (scripts/build_foreign_names.py): words, population."""
    out = []
    lines = FOREIGN.read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        name, _kind, _country, population = line.split("\t")
        words = tuple(t.norm for t in tokenize(name))
        if words:
            out.append((words, int(population)))
    return out


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


@dataclass(frozen=True)
class _Grammar:
    """What the dictionaries say a word can be: (part of speech, case, number) of each parse."""

    forms: frozenset[tuple[str, str, str]]
    flags: frozenset[str]  # Name, Surn, Patr, Geox among its parses

    def cases(self, part: str | None = None) -> frozenset[str]:
        return frozenset(c for p, c, _ in self.forms if c and (part is None or p == part))


def _km(lat1: float, lon1: float | None, lat2: float | None, lon2: float | None) -> float:
    """Great-circle distance in kilometres (inf when a coordinate is missing)."""
    if lon1 is None or lat2 is None or lon2 is None:
        return math.inf
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371 * math.asin(math.sqrt(a))


def _gap(text: str, start: int, end: int) -> str:
    """What stands between two words, spaces and Markdown emphasis (**, __) aside."""
    return text[start:end].strip(" \u00a0\t*_~`")


def _sentence_start(text: str, start: int) -> bool:
    """Whether only markup, emoji, quotes or spaces stand between a sentence's end and here."""
    i = start - 1
    while i >= 0:
        c = text[i]
        if c in _SENTENCE_END:
            return True
        if c.isalnum():
            return False
        i -= 1
    return True


def _quoted(text: str, start: int, end: int) -> int:
    """Where the quotes open if text[start:end] stands in a short quoted name («Валдай»,
    "Рубіж", ЖК «Северный»), else -1."""
    for opening, closing in (("«", "»"), ("“", "”"), ("„", "“"), ('"', '"')):
        left = text.rfind(opening, max(0, start - 40), start)
        if left < 0 or closing in text[left + 1:start] or "\n" in text[left:start]:
            continue
        right = text.find(closing, end, end + 40)
        if right < 0 or "\n" in text[end:right]:
            continue
        if len(text[left + 1:right].split()) <= 4:
            return left
    return -1


@dataclass
class _Name:
    places: tuple[str, ...]
    rest: tuple[frozenset[str], ...]  # lemma keys of the following words of the name
    adjective: bool  # a region adjective (or demonym): no capital letter needed
    ambiguous_word: bool  # also a common word or a surname, or a small place: needs support
    every_region: bool = False  # counts for all its places' regions (Донбасс)
    common_word: bool = False  # the dictionary knows the first word as something else too
    settlement: bool = False  # one word naming settlements only (no region, no adjective)
    foreign: int = 0  # a foreign country or city (its population): never a hit of its own


@dataclass
class PlaceMatcher:
    """All place names of the gazetteer compiled into a lemma-keyed index."""

    gazetteer: Gazetteer
    lemmatizer: Lemmatizer
    _index: dict[str, list[_Name]] = field(default_factory=lambda: defaultdict(list))
    _cache: dict[tuple[str, bool], tuple[_Name, ...]] = field(default_factory=dict)
    _name_cache: dict[str, tuple[frozenset[str], bool, bool]] = field(default_factory=dict)
    _grammar_cache: dict[str, _Grammar] = field(default_factory=dict)

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
        digest.update(FOREIGN.read_bytes())
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
            elif adjective in CITY_ADJECTIVES:
                matcher._add((adjective,), (CITY_ADJECTIVES[adjective],), adjective=True)
        for word, codes in EXTRA_WORDS.items():
            matcher._add((word,), codes, adjective=True, every_region=len(codes) > 1)
        for words, population in _foreign_names():
            first, *rest = words
            entry = _Name((), tuple(matcher._name_keys(w)[0] for w in rest), False, False,
                          foreign=population)
            for key in matcher._name_keys(first)[0]:
                matcher._index[key].append(entry)
        return matcher

    def _add(self, words: tuple[str, ...], places: tuple[str, ...], adjective: bool,
             every_region: bool = False) -> None:
        first, *rest = words
        keys, known_other, geox = self._name_keys(first)
        kinds = [self.gazetteer.places[p] for p in places]
        biggest = max((p.population or 0) for p in kinds)
        ambiguous = settlement = False
        if len(words) == 1 and not adjective and not any(p.kind == "region" for p in kinds):
            # an ordinary word or a person's name; or a small place named like a famous one
            # (Китай, Берлин, Крым are villages too); or a village at all (most are named
            # like something else somewhere): each needs evidence in the post
            # a big town named like an adjective (Раменское, Жуковский) is the town
            settlement = True
            villages = all(p.kind == "settlement" for p in kinds)
            # a big city's district (Хамовники, Троєщина) is no village: its name alone counts
            # (a namesake village elsewhere still makes it a shared name, rule 3)
            districts = all(p.kind == "district" for p in kinds)
            ambiguous = not districts and ((known_other and biggest < BIG_PLACE) or (
                geox and biggest < FAMOUS_ELSEWHERE) or (first.isascii() and biggest < LATIN_NAMED
            ) or (villages and biggest < SMALL_PLACE and not geox))
        entry = _Name(places, tuple(self._name_keys(w)[0] for w in rest), adjective, ambiguous,
                      every_region, common_word=known_other, settlement=settlement)
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

    def _metonym(self, text: str, tokens: list[Token], pos: int, end: int) -> bool:
        """A capital's name for its government: "Москва заявила", "передать Киеву", "Киеву
        разрешили": a speaking or deciding verb after it, a giving verb before it, or the
        dative with no preposition (the one who receives; a place takes "по", "к", "в")."""
        cases = self._grammar(tokens[pos].norm).cases("NOUN")
        no_preposition = pos == 0 or not any(
            p == "PREP" for p, _c, _n in self._grammar(tokens[pos - 1].norm).forms)
        # the subject of a verb is in the nominative, and never after a preposition ("в Москве
        # готовы", "на Київ йде 2 цілі" are places)
        subject = "nomn" in cases and no_preposition
        if subject and end + 1 < len(tokens) and self.lemmatizer.keys(
                tokens[end + 1].norm) & METONYM_VERBS:
            return True
        if pos > 0 and self.lemmatizer.keys(tokens[pos - 1].norm) & METONYM_BEFORE:
            return True
        if self._beside_a_state(text, tokens, pos, end):
            return True  # "между Москвой и Киевом", "Вашингтона, Сеула и Киева"
        if pos > 0 and tokens[pos - 1].norm in _FOR_WHOM:
            return True  # "для Киева", "со стороны Киева"
        if pos > 0 and self.lemmatizer.keys(tokens[pos - 1].norm) & CONTROLLED_BY:
            return True  # "подконтрольной Киеву части"
        if subject and pos > 0 and self.lemmatizer.keys(tokens[pos - 1].norm) & (
                METONYM_VERBS | SAID_BY) and (end + 1 == len(tokens) or _gap(
                    text, tokens[end].end, tokens[end + 1].start)):
            return True  # the subject after its verb, ending the clause: "сообщил Киев."
        if subject and self._acts(text, tokens, end):
            return True
        if no_preposition and cases <= {"ablt"}:
            return True  # "ракеты, используемые Киевом": the one who acts
        if no_preposition and "gent" in cases and pos > 0 and self.lemmatizer.keys(
                tokens[pos - 1].norm) & METONYM_NOUNS:
            return True  # "поддержку Киева", "позиция Москвы"
        if tokens[pos - 1].norm in _TOWARDS and pos > 1 and self.lemmatizer.keys(
                tokens[pos - 2].norm) & METONYM_NOUNS:
            return True  # "давление на Киев", "отношения с Москвой", "переговоры с Киевом"
        if cases == {"nomn"} and pos > 0 and not _gap(text, tokens[pos - 1].end,
                                                      tokens[pos].start) and any(
                p in ("VERB", "INFN") for p, _c, _n in self._grammar(tokens[pos - 1].norm).forms
        ) and (end + 1 == len(tokens) or _gap(text, tokens[end].end, tokens[end + 1].start)):
            return True  # the subject after its verb: "что хотела продемонстрировать Москва?"
        if "datv" not in cases or cases - {"datv", "loct"}:
            return False
        if pos == 0:
            return True  # "Киеву разрешили …"
        if _gap(text, tokens[pos - 1].end, tokens[pos].start):
            return False  # "в Курской области, Москве": a list, the preposition before it
        # "по Киеву" is a place, and so are "в Новой Москве" (an adjective between) and "в
        # Курской области и Москве" (a list under one preposition)
        before_forms = {p for p, _c, _n in self._grammar(tokens[pos - 1].norm).forms}
        return not before_forms & {"PREP", "ADJF", "PRTF", "NUMR", "CONJ"}

    def _beside_a_state(self, text: str, tokens: list[Token], pos: int, end: int) -> bool:
        """Named in one list with a country, a foreign capital or the other capital, and not
        after a preposition of place ("в Москве и Киеве прошли акции" are places)."""
        start = pos
        while start > 0 and (tokens[start - 1].norm in _LIST_WORDS or self._state_at(
                tokens, start - 1)) and not _gap(text, tokens[start - 1].end,
                                                  tokens[start].start).strip(","):
            start -= 1
        if start > 0 and tokens[start - 1].norm not in ("между", "між") and (any(
                p == "PREP" for p, _c, _n in self._grammar(tokens[start - 1].norm).forms)
                or self.lemmatizer.keys(
                tokens[start - 1].norm) & PARTS_OF_A_PLACE):
            return False  # "на улицах Киева, Москвы", "у жителей Киева и Москвы"
        for step in (-1, 1):
            at = pos if step == -1 else end
            for _ in range(2):
                at += step
                if not 0 <= at < len(tokens):
                    break
                lo, hi = (tokens[at], tokens[at - step]) if step == -1 else (
                    tokens[at - step], tokens[at])
                if _gap(text, lo.end, hi.start).strip(","):
                    break
                if tokens[at].norm in _LIST_WORDS:
                    continue
                if self._state_at(tokens, at):
                    return True
                break
        return False

    def _state_at(self, tokens: list[Token], at: int) -> bool:
        """A country, a foreign capital or Moscow/Kyiv themselves at this token."""
        token = tokens[at]
        if not token.proper and not token.norm.isupper():
            return False
        names = self._cache.get((token.norm, token.proper))
        if names is None:
            names = tuple(n for k in self.lemmatizer.keys(token.norm, token.proper)
                          for n in self._index.get(k, ()))
        return any((n.foreign and not n.rest) or (not n.rest and len(n.places) == 1 and
                   n.places[0] in _CAPITAL_REGIONS and not n.adjective) for n in names)

    def _acts(self, text: str, tokens: list[Token], end: int) -> bool:
        """The name is the subject of a verb that only a government does: "Киев (несколько
        раз) обвинял", "Киев продолжает затягивать" — a finite verb in the singular right
        after it, adverbs and particles aside; not one that happens to a city (подвергся,
        погрузился, остался)."""
        at = end
        for _ in range(3):
            at += 1
            if at >= len(tokens) or _gap(text, tokens[at - 1].end, tokens[at].start):
                return False
            keys = self.lemmatizer.keys(tokens[at].norm)
            forms = self._grammar(tokens[at].norm).forms
            if any(p == "VERB" and n == "sing" for p, _c, n in forms):
                if at + 1 < len(tokens) and any(p == "INFN" for p, _c, _n in self._grammar(
                        tokens[at + 1].norm).forms):
                    return True  # "Киев не стал защищать", "Москва решила ответить"
                return not keys & HAPPENS_TO_A_CITY
            if not (keys & {"раз"} or any(p in ("ADVB", "PRCL", "NUMR") for p, _c, _n in forms)):
                return False
        return False

    def _grammar(self, norm: str) -> _Grammar:
        """The word's parses in both dictionaries, reduced to what agreement needs (cached)."""
        cached = self._grammar_cache.get(norm)
        if cached is not None:
            return cached
        if len(self._grammar_cache) > 100_000:
            self._grammar_cache.clear()
        ru, uk = self.lemmatizer.parses_by_language(norm)
        parses = [p for p in (*ru, *uk) if p.is_known] or [*ru, *uk]
        forms: set[tuple[str, str, str]] = set()
        flags: set[str] = set()
        for parse in parses:
            grammemes = parse.tag.grammemes
            forms.add((str(parse.tag.POS), min(grammemes & _CASES, default=""),
                       min(grammemes & _NUMBERS, default="")))
            flags |= grammemes & {"Name", "Surn", "Patr", "Geox"}
        result = self._grammar_cache[norm] = _Grammar(frozenset(forms), frozenset(flags))
        return result

    def _person(self, text: str, tokens: list[Token], pos: int) -> bool:
        """A surname here: after a first name, an initial or a title; before a first name."""
        token = tokens[pos]
        word = self._grammar(token.norm)
        if pos > 0 and not _gap(text, tokens[pos - 1].end, token.start):
            prev = tokens[pos - 1]
            if self.lemmatizer.keys(prev.norm) & PERSON_TITLES:
                return True
            if prev.proper and "Name" in (g := self._grammar(prev.norm)).flags and (
                    g.cases("NOUN") & word.cases()):
                return True
        before = text[max(0, token.start - 6):token.start]
        if len(before) >= 3 and before[-1] in " \u00a0" and before.rstrip()[-1:] == "." and (
                before.rstrip()[-2:-1].isupper()
                and not before.rstrip()[-3:-2].isalpha()):
            return True  # "А. Николаев", "А.Б. Николаев"
        if pos + 1 < len(tokens) and "Surn" in word.flags:
            nxt = tokens[pos + 1]
            g = self._grammar(nxt.norm)
            if nxt.proper and g.flags & {"Name", "Patr"} and g.cases() & word.cases():
                return True  # "Буянова Надежда"
        return False

    def _eponym(self, tokens: list[Token], pos: int) -> bool:
        """"парк Горького", "улица Мира": a name in the genitive after such a noun, singular."""
        if pos == 0:
            return False
        prev = tokens[pos - 1]
        if not self.lemmatizer.keys(prev.norm) & EPONYM_AFTER:
            return False
        numbers = {n for _, _, n in self._grammar(prev.norm).forms}
        if "plur" in numbers and "sing" not in numbers:
            return False  # "парки Москвы"
        # "парк Горького" (a person), "улица Мира" (a word); not "в парке Брянска" (a place)
        flags = self._grammar(tokens[pos].norm).flags
        return bool(flags & {"Name", "Surn", "Patr"}) or "Geox" not in flags

    def _attribute(self, text: str, tokens: list[Token], pos: int) -> bool:
        """A place named like an adjective, used as one: «Северных потоках», «Північної Кореї»."""
        forms = {(c, n) for p, c, n in self._grammar(tokens[pos].norm).forms if p == "ADJF"}
        for step in (1, 2, 3):
            at = pos + step
            if at >= len(tokens) or _gap(text, tokens[at - 1].end, tokens[at].start):
                return False
            nxt = tokens[at]
            if self.lemmatizer.keys(nxt.norm) & _PLACE_NOUNS:
                return False
            grammar = self._grammar(nxt.norm)
            if {p for p, _c, _n in grammar.forms} & {"CONJ", "PREP", "PRCL", "INTJ", "NPRO"}:
                return False  # "В Мурино и Москве": «и» is no noun
            if any(p == "NOUN" and (c, n) in forms for p, c, n in grammar.forms):
                return True
            if not any(p in ("ADJF", "PRTF") and (c, n) in forms for p, c, n in grammar.forms):
                return False
        return False

    def _common_here(self, text: str, tokens: list[Token], pos: int, name: _Name) -> bool:
        """A settlement's name that proves nothing here: a word the dictionary knows as a first
        name and not as a place ("Артем"), or, at a sentence's start, as an ordinary word
        ("Короче", "Шесть", "Маленький")."""
        grammar = self._grammar(tokens[pos].norm)
        if "Name" in grammar.flags and "Geox" not in grammar.flags:
            return True
        if not _sentence_start(text, tokens[pos].start):
            return False
        return name.common_word or bool({p for p, _c, _n in grammar.forms} - {"NOUN", "None"})

    def _quoted_thing(self, text: str, start: int, stop: int) -> bool:
        """A place's name in quotes after what it names: клуб «Валдай», ракета "Рубіж",
        телеканал «Москва 24» (not «Москва-Сити» or полигон «Капустин Яр»: those are places)."""
        opening = _quoted(text, start, stop)
        if opening < 0:
            return False
        before = [t.norm for t in tokenize(text[max(0, opening - 40):opening])][-2:]
        return any(self.lemmatizer.keys(word) & THING_NOUNS for word in before)

    def _names_a_thing(self, text: str, tokens: list[Token], end: int) -> bool:
        """A region's adjective before a street, station, dish or institution, adjectives
        aside: "Ленинградский проспект", "Московском финансово-юридическом университете"."""
        at = end
        for _ in range(3):
            at += 1
            if at >= len(tokens) or _gap(text, tokens[at - 1].end, tokens[at].start):
                return False
            if self.lemmatizer.keys(tokens[at].norm) & NOT_THE_REGION_AFTER:
                return True
            if not any(p in ("ADJF", "PRTF") for p, _c, _n in
                       self._grammar(tokens[at].norm).forms):
                return False
        return False

    def _named_thing(self, text: str, tokens: list[Token], pos: int, end: int,
                     name: _Name) -> bool:
        """A region's or a city-region's name as the name of something else: «Москва 24»,
        "канал имени Москвы", "улица Большая Тульская", "метро Волжская", "Ольга Ярославская"."""
        start, stop = tokens[pos].start, tokens[end].end
        if self._quoted_thing(text, start, stop):
            return True
        if pos == 0 or _gap(text, tokens[pos - 1].end, start):
            return False
        before = self.lemmatizer.keys(tokens[pos - 1].norm)
        if before & {"имя", "им", "ім'я", "імені"}:
            return True
        if not name.adjective:
            return False
        if before & STREET_BEFORE or _ORDINAL_RE.match(tokens[pos - 1].norm):
            return True  # "улице Большая Тульская", "на 3-й Тверской-Ямской", "метро Волжская"
        prev = tokens[pos - 1]
        return prev.proper and "Name" in (g := self._grammar(prev.norm)).flags and bool(
            g.cases("NOUN") & self._grammar(tokens[pos].norm).cases())

    def _not_a_place(self, text: str, tokens: list[Token], pos: int) -> bool:
        token = tokens[pos]
        return (self._quoted_thing(text, token.start, token.end) or self._eponym(tokens, pos)
                or self._person(text, tokens, pos) or self._attribute(text, tokens, pos))

    def _size(self, name: _Name) -> int:
        if name.foreign:
            return name.foreign
        return max((self.gazetteer.places[p].population or 0) for p in name.places)

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
                                -self._size(r[2]), sorted(r[2].places)))
        taken: set[int] = set()
        chosen: list[tuple[int, int, _Name]] = []
        for pos, end, name in raw:
            if any(p in taken for p in range(pos, end + 1)):
                continue
            taken.update(range(pos, end + 1))
            chosen.append((pos, end, name))
        # People, eponyms, quoted names and adjectives are not places; a word found to be a
        # person's surname is that person everywhere in the post ("Юрию Николаеву … Николаев")
        rejected = {pos for pos, end, name in chosen
                    if (name.settlement and self._not_a_place(text, tokens, pos))
                    or (not name.settlement and self._named_thing(text, tokens, pos, end, name))}
        people = [self.lemmatizer.keys(tokens[pos].norm) for pos in rejected]
        rejected |= {pos for pos, _end, name in chosen if name.settlement and any(
            keys & self.lemmatizer.keys(tokens[pos].norm) for keys in people)}
        chosen = [c for c in chosen if c[0] not in rejected]
        # a settlement named like a common word proves nothing at a sentence's start
        weak = {pos for pos, _end, name in chosen if name.ambiguous_word or (
            name.settlement and self._common_here(text, tokens, pos, name))}
        certain_regions: set[str] = set()
        for pos, _end, name in chosen:
            regions = {gaz.places[p].region for p in name.places}
            if len(regions) == 1 and pos not in weak:
                certain_regions |= regions
        # where the post's sure places are: a village near one of them is supported too
        # (not a city-region's: the villages around Moscow or Kyiv are too many to tell)
        anchors = [(gaz.places[i].lat, gaz.places[i].lon) for pos, _e, name in chosen
                   if pos not in weak and len({gaz.places[i].region for i in name.places}) == 1
                   for i in name.places if gaz.places[i].lat is not None
                   and gaz.places[i].region not in CITY_OBLAST]
        hits: list[PlaceHit] = []
        for pos, end, name in chosen:
            if name.foreign:
                # "Париж", "Перу", "Нью-Йорк": the foreign place — unless a namesake here is
                # what the post's other places point at (Нью-Йорк near Торецк, Donetsk oblast)
                local = [n for p, e, n in raw if p == pos and e == end and n.places and any(
                    gaz.places[i].region in certain_regions for i in n.places)]
                if not local:
                    continue
                name = local[0]
            places = [gaz.places[p] for p in sorted(name.places)]
            marked = pos > 0 and (tokens[pos - 1].norm in PLACE_MARKERS or (
                tokens[pos - 1].norm in DOTTED_MARKERS
                and text[tokens[pos - 1].end:tokens[pos - 1].end + 1] == "."))
            if name.adjective and self._names_a_thing(text, tokens, end):
                continue
            # ambiguous names never count as support (certain_regions), so none supports itself
            supported = [p for p in places if p.region in certain_regions] or [
                p for p in places if p.lat is not None and not name.common_word and any(
                    _km(p.lat, p.lon, a, b) <= NEAR_KM for a, b in anchors)]
            regions = {p.region for p in places}
            if pos in weak and not supported and (not marked or certain_regions):
                # a marker says "a settlement", not which: with the post's places all in other
                # regions, it is a namesake the gazetteer does not know ("в деревне Становое
                # под Раменским" is not the Lipetsk one)
                continue
            if pos > 1 and tokens[pos - 1].norm == "на" and tokens[pos - 2].norm in _SUBSCRIBE:
                continue
            if name.adjective and len(places) == 1 and places[0].region in CITY_OBLAST:
                city = places[0].region
                after = self.lemmatizer.keys(tokens[end + 1].norm) if end + 1 < len(tokens) \
                    else frozenset()
                if after & NOT_THE_CITY_AFTER:
                    continue
                if "регион" in after:  # "московский регион": the city and its oblast
                    places = [places[0], gaz.places[CITY_OBLAST[city]]]
                    for place in places:
                        start, stop = tokens[pos].start, tokens[end + 1].end
                        hits.append(PlaceHit(place, place.region, start, stop, text[start:stop]))
                    continue
                if self._in_region_list(text, tokens, pos, chosen):
                    places = [gaz.places[CITY_OBLAST[city]]]
            if name.every_region:
                for place in places:
                    start, stop = tokens[pos].start, tokens[end].end
                    hits.append(PlaceHit(place, place.region, start, stop, text[start:stop]))
                continue
            top = [p for p in places if p.kind == "region"]
            if top:
                places = top[:1]
            if places[0].region in _CAPITAL_REGIONS and len(places) == 1 and not (
                    name.adjective) and self._metonym(text, tokens, pos, end):
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
                    if (biggest.population or 0) < BIGGER_BY * max(others, 1):
                        continue
                    places = [biggest]
            place = min(places, key=lambda p: (p.kind != "region", -(p.population or 0)))
            start, stop = tokens[pos].start, tokens[end].end
            hits.append(PlaceHit(place, place.region, start, stop, text[start:stop]))
        return hits + self._bare_oblast(text, tokens, hits)

    def _in_region_list(self, text: str, tokens: list[Token], pos: int,
                        chosen: list[tuple[int, int, _Name]]) -> bool:
        """A region adjective among others ("Киевской, Одесской и Днепропетровской областях")."""
        if self.lemmatizer.keys(tokens[pos].norm) & _CITY_WORDS:
            return False  # "москвичам и петербуржцам" are the cities' people
        gaz = self.gazetteer
        adjectives = {p for p, _e, n in chosen if (n.adjective or self._is_region(n)) and p != pos
                      and not {gaz.places[i].region for i in n.places} & CITY_OBLAST.keys()}
        if pos + 1 < len(tokens) and self.lemmatizer.keys(tokens[pos + 1].norm) & {
                "областной", "обласний"}:
            return True  # "Московской областной думы"
        for step in (-1, 1):
            at = pos
            while 0 <= at + step < len(tokens):
                nxt = at + step
                lo, hi = (tokens[at], tokens[nxt]) if step == 1 else (tokens[nxt], tokens[at])
                if _gap(text, lo.end, hi.start).strip(","):
                    break  # only commas, spaces and "и" may stand between the members
                if nxt in adjectives:
                    return True
                if tokens[nxt].norm not in _LIST_WORDS:
                    break
                at = nxt
        return False

    def _bare_oblast(self, text: str, tokens: list[Token], hits: list[PlaceHit]) -> list[PlaceHit]:
        """ "В Москве и области", "по области": the oblast around the one city named."""
        cities = {h.region for h in hits if h.region in CITY_OBLAST}
        if len(cities) != 1:
            return []
        oblast = CITY_OBLAST[next(iter(cities))]
        if any(h.region == oblast for h in hits):
            return []
        covered = {i for h in hits for i, t in enumerate(tokens) if h.start <= t.start < h.end}
        for i, token in enumerate(tokens):
            if token.norm not in _BARE_OBLAST or token.proper or i in covered:
                continue
            if i > 0 and "ADJF" in {p for p, _c, _n in self._grammar(tokens[i - 1].norm).forms}:
                continue  # "Курской области", "той области": a named or a pointed-at one
            if i + 1 < len(tokens) and not _gap(text, token.end, tokens[i + 1].start) and any(
                    p == "NOUN" and c == "gent" for p, c, _n in
                    self._grammar(tokens[i + 1].norm).forms):
                continue  # "в области медицины"
            place = self.gazetteer.places[oblast]
            return [PlaceHit(place, oblast, token.start, token.end, text[token.start:token.end])]
        return []

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
