"""The shipped gazetteer, read with gzip and json alone (no project code).

``bot/regions/data/gazetteer.jsonl.gz`` is built by ``scripts/build_gazetteer.py``; these tests
pin its shape and the facts region alerts rely on.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "bot" / "regions" / "data"
GAZETTEER = DATA / "gazetteer.jsonl.gz"

KEYS = {"id", "kind", "parent", "region", "names", "historic", "population", "lat", "lon"}
KINDS = {"region", "raion", "hromada", "settlement", "district"}
UA_CODES = {
    "UA-05", "UA-07", "UA-09", "UA-12", "UA-14", "UA-18", "UA-21", "UA-23", "UA-26", "UA-30",
    "UA-32", "UA-35", "UA-40", "UA-43", "UA-46", "UA-48", "UA-51", "UA-53", "UA-56", "UA-59",
    "UA-61", "UA-63", "UA-65", "UA-68", "UA-71", "UA-74", "UA-77",
}  # fmt: skip
RU_BORDER = ("RU-BEL", "RU-KRS", "RU-BRY", "RU-VOR", "RU-ROS")
RU_WITH_SETTLEMENTS = (*RU_BORDER, "RU-KDA", "RU-MOW", "RU-MOS")

Place = dict[str, Any]


def fold(name: str) -> str:
    """Compare names as a reader would: case, ё/е and the apostrophe's shape do not matter."""
    return name.casefold().replace("ё", "е").replace("’", "'").replace("ʼ", "'")


def all_names(place: Place) -> set[str]:
    """Every current name of a place, folded."""
    return {fold(n) for names in place["names"].values() for n in names}


@pytest.fixture(scope="module")
def lines() -> list[str]:
    with gzip.open(GAZETTEER, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


@pytest.fixture(scope="module")
def places(lines: list[str]) -> dict[str, Place]:
    records = [json.loads(line) for line in lines]
    by_id = {record["id"]: record for record in records}
    assert len(by_id) == len(records), "ids are not unique"
    return by_id


@pytest.fixture(scope="module")
def by_region(places: dict[str, Place]) -> dict[str, list[Place]]:
    grouped: dict[str, list[Place]] = defaultdict(list)
    for place in places.values():
        grouped[place["region"]].append(place)
    return grouped


def settlements_named(by_region: dict[str, list[Place]], region: str, name: str) -> list[Place]:
    return [
        p for p in by_region[region] if p["kind"] == "settlement" and fold(name) in all_names(p)
    ]


def test_file_is_compact() -> None:
    assert GAZETTEER.stat().st_size < 3_000_000


def test_every_line_has_the_documented_shape(lines: list[str], places: dict[str, Place]) -> None:
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == sorted(ids), "lines are sorted by id"
    for place in places.values():
        assert set(place) == KEYS, place["id"]
        assert place["kind"] in KINDS, place["id"]
        assert set(place["names"]) == {"ru", "uk", "en"}, place["id"]
        assert any(place["names"].values()), f"{place['id']} has no name"
        for names in place["names"].values():
            assert all(isinstance(n, str) and n == n.strip() and n for n in names), place["id"]
            assert len({fold(n) for n in names}) == len(names), f"{place['id']}: duplicates"
        assert all(n.isascii() for n in place["names"]["en"]), place["id"]
        assert isinstance(place["historic"], list), place["id"]
        assert place["population"] is None or isinstance(place["population"], int)
        for coordinate in (place["lat"], place["lon"]):
            assert coordinate is None or isinstance(coordinate, float), place["id"]
        prefix = place["id"].split(":")[0]
        assert prefix in {"gn", "katottg", "sup"} or place["kind"] == "region", place["id"]


def test_every_parent_chain_reaches_its_region(places: dict[str, Place]) -> None:
    for place in places.values():
        current, seen = place, set()
        while current["kind"] != "region":
            assert current["parent"] in places, f"{place['id']}: dangling {current['parent']}"
            assert current["id"] not in seen, f"{place['id']}: cycle"
            seen.add(current["id"])
            current = places[current["parent"]]
        assert current["parent"] is None
        assert current["id"] == place["region"], place["id"]


def test_all_27_ukrainian_regions_and_their_raions(
    places: dict[str, Place], by_region: dict[str, list[Place]]
) -> None:
    regions = {p["id"] for p in places.values() if p["kind"] == "region"}
    assert UA_CODES <= regions
    assert {r for r in regions if r.startswith("UA-")} == UA_CODES
    assert "Автономна Республіка Крим" in places["UA-43"]["names"]["uk"]
    assert "Севастополь" in places["UA-40"]["names"]["ru"]
    assert places["UA-30"]["names"]["uk"][0] == "Київ"
    for code in UA_CODES - {"UA-30", "UA-40"}:  # the two cities have no raions
        kinds = {p["kind"] for p in by_region[code]}
        assert {"raion", "hromada", "settlement"} <= kinds, code
    raions = [p for p in places.values() if p["kind"] == "raion" and p["region"] in UA_CODES]
    assert len(raions) == 136


def test_russian_subjects(places: dict[str, Place], by_region: dict[str, list[Place]]) -> None:
    subjects = [p for p in places.values() if p["kind"] == "region" and p["id"].startswith("RU-")]
    assert len(subjects) >= 80
    for subject in subjects:
        assert subject["names"]["ru"] and subject["names"]["en"], subject["id"]
    for code in RU_BORDER:
        assert places[code]["names"]["uk"], code
    assert "Бєлгородська область" in places["RU-BEL"]["names"]["uk"]
    assert "Курська область" in places["RU-KRS"]["names"]["uk"]
    assert places["RU-BEL"]["names"]["ru"][0] == "Белгородская область"
    for code in RU_WITH_SETTLEMENTS:
        settlements = [p for p in by_region[code] if p["kind"] == "settlement"]
        assert len(settlements) >= 5, code


def test_regional_nicknames(places: dict[str, Place]) -> None:
    assert {"белгородчина", "бєлгородщина"} <= all_names(places["RU-BEL"])
    assert {"харківщина", "харьковщина"} <= all_names(places["UA-63"])
    assert "кубань" in all_names(places["RU-KDA"])
    assert "подмосковье" in all_names(places["RU-MOS"])


def test_a_city_is_not_its_region(
    places: dict[str, Place], by_region: dict[str, list[Place]]
) -> None:
    assert "белгород" not in all_names(places["RU-BEL"])
    assert "kharkiv" not in all_names(places["UA-63"])
    assert settlements_named(by_region, "RU-BEL", "Белгород")
    assert settlements_named(by_region, "UA-63", "Харків")


def test_belgorod_oblast_settlements(by_region: dict[str, list[Place]]) -> None:
    for name in ("Шебекино", "Грайворон", "Валуйки", "Журавлевка", "Нехотеевка", "Глотово"):
        assert settlements_named(by_region, "RU-BEL", name), name
    shebekino = settlements_named(by_region, "RU-BEL", "Шебекино")
    assert len(shebekino) == 1 and shebekino[0]["population"] > 30_000


def test_kursk_border_villages(by_region: dict[str, list[Place]]) -> None:
    for name in ("Суджа", "Горналь", "Тёткино"):
        assert settlements_named(by_region, "RU-KRS", name), name


def test_former_names(by_region: dict[str, list[Place]]) -> None:
    (bakhmut,) = settlements_named(by_region, "UA-14", "Бахмут")
    assert "Артемовск" in bakhmut["historic"]
    (pokrovsk,) = settlements_named(by_region, "UA-14", "Покровськ")
    assert "Красноармейск" in pokrovsk["historic"]
    assert "покровск" in all_names(pokrovsk)
    (dnipro,) = settlements_named(by_region, "UA-12", "Дніпро")
    assert "Днепропетровск" in dnipro["historic"]
    assert "днепропетровск" not in all_names(dnipro)


def test_kupiansk(by_region: dict[str, list[Place]]) -> None:
    (kupiansk,) = settlements_named(by_region, "UA-63", "Куп'янськ")
    assert kupiansk["id"].startswith("katottg:")
    assert kupiansk["names"]["uk"][0] == "Куп'янськ"
    assert kupiansk["names"]["ru"][0] == "Купянск"
    assert kupiansk["names"]["en"][:2] == ["Kupiansk", "Kupyansk"]
    assert kupiansk["population"] and kupiansk["lat"] and kupiansk["lon"]


def test_big_cities_have_their_districts(places: dict[str, Place]) -> None:
    """Districts and neighbourhoods of Moscow, St Petersburg, Kyiv and Kharkiv (supplement)."""
    districts: dict[str, list[str]] = {}
    for place in places.values():
        if place["kind"] == "district":
            districts.setdefault(place["region"], []).append(place["names"]["ru"][0])
            assert place["parent"] == place["region"], place["id"]
    assert set(districts) == {"RU-MOW", "RU-SPE", "UA-30", "UA-63"}
    assert len(districts["RU-MOW"]) >= 125  # every raion of Moscow
    assert "Хамовники" in districts["RU-MOW"] and "Троещина" in districts["UA-30"]


def test_foreign_names_are_countries_and_big_cities() -> None:
    path = Path(__file__).resolve().parents[2] / "bot" / "regions" / "data" / "foreign.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "name\tkind\tcountry\tpopulation"
    rows = [line.split("\t") for line in lines[1:]]
    assert rows == sorted(rows) and all(len(r) == 4 for r in rows)
    by_name = {r[0]: r for r in rows}
    assert by_name["Перу"][1:3] == ["country", "PE"] and by_name["Берлин"][1:3] == ["city", "DE"]
    assert all(r[2] not in ("RU", "UA") for r in rows if r[1] == "city")
    assert all(r[1] == "country" or int(r[3]) >= 1_000_000 for r in rows)
