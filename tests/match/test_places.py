"""The index uses places only through PlaceFinder: bot.match never imports bot.regions."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.match import CompiledRule, Lemmatizer, RuleIndex, parse_rule
from bot.match.names import NameSource
from bot.match.normalize import Token
from bot.match.places import PlaceMention

ROOT = Path(__file__).resolve().parents[2]
MATCH = ROOT / "bot" / "match"

# In a fresh interpreter: import every module of bot.match, compile a region: rule and match
# a post through a stand-in finder (a method-local import would run only then).
_ISOLATED = """
import importlib, pkgutil, sys
import bot.match
for module in pkgutil.iter_modules(bot.match.__path__, "bot.match."):
    importlib.import_module(module.name)
from bot.match import CompiledRule, Lemmatizer, RuleIndex, parse_rule
from bot.match.places import PlaceMention

class Finder:
    names = None
    def mentions(self, text, tokens, keys):
        return [PlaceMention(0, 4, "x", "X", "Region")]
    def places_in(self, query):
        return frozenset({"x"})

index = RuleIndex.build(Lemmatizer(), [CompiledRule(1, 1, parse_rule("region:x"))], Finder())
assert [h.rule_id for h in index.match("Xxxx")] == [1]
print(sorted(m for m in sys.modules if m == "bot.regions" or m.startswith("bot.regions.")))
"""


def test_importing_and_using_match_loads_no_regions() -> None:
    done = subprocess.run([sys.executable, "-c", _ISOLATED], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted(MATCH.glob("*.py")), ids=lambda p: p.name)
def test_no_module_of_match_names_regions(path: Path) -> None:
    # also imports under TYPE_CHECKING and inside functions, which never run on import
    imported = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
    assert not [m for m in imported if m == "bot.regions" or m.startswith("bot.regions.")]


class _Names:
    def names_of(self, name: str) -> Sequence[str]:
        return ["Старый Оскол", "Старий Оскіл"] if name == "старый оскол" else []


_INSIDE = {"ru-bel": frozenset({"RU-BEL", "shebekino"}), "шебекино": frozenset({"shebekino"})}


class _Finder:
    """A stand-in with no gazetteer: Шебекино inside RU-BEL, and one name of two words."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def names(self) -> NameSource:
        return _Names()

    def mentions(self, text: str, tokens: list[Token],
                 keys: list[frozenset[str]]) -> list[PlaceMention]:
        self.calls += 1
        return [PlaceMention(t.start, t.end, "shebekino", "Шебекино", "Belgorod Oblast")
                for t in tokens if t.norm == "шебекино"]

    def places_in(self, query: str) -> frozenset[str]:
        if query.lower() not in _INSIDE:
            raise ValueError(f"no place called {query!r} is known")
        return _INSIDE[query.lower()]


@pytest.fixture(scope="module")
def lemmatizer() -> Lemmatizer:
    return Lemmatizer.shared()


def test_region_rules_go_through_the_finder(lemmatizer: Lemmatizer) -> None:
    finder = _Finder()
    index = RuleIndex.build(lemmatizer, [
        CompiledRule(1, 1, parse_rule("region:RU-BEL")),
        CompiledRule(2, 1, parse_rule("region:Шебекино дрон")),
        CompiledRule(3, 1, parse_rule("обстрел")),
    ], finder)
    hits = {h.rule_id: h for h in index.match("Дроны над Шебекино")}
    assert sorted(hits) == [1, 2]
    assert hits[1].spans == ((10, 18),)
    assert hits[1].fired == ("📍 Шебекино, Belgorod Oblast",)
    assert [h.rule_id for h in index.match("Обстрел")] == [3]
    assert finder.calls == 2  # once a post, however many region rules


def test_an_unknown_place_is_the_finders_error(lemmatizer: Lemmatizer) -> None:
    with pytest.raises(ValueError, match="no place called"):
        RuleIndex.build(lemmatizer, [CompiledRule(1, 1, parse_rule("region:Нигдеград"))],
                        _Finder())


def test_names_come_from_the_finder(lemmatizer: Lemmatizer) -> None:
    rule = [CompiledRule(1, 1, parse_rule("старый оскол"))]
    text = "Вибухи в Старому Осколі"
    [named] = RuleIndex.build(lemmatizer, rule, _Finder()).match(text)
    assert named.spans == ((9, 23),)  # one name, not two words
    assert "старый оскол" in named.fired
    [plain] = RuleIndex.build(lemmatizer, rule).match(text)
    assert plain.spans == ((9, 16), (17, 23))
