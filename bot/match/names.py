"""Names of several words (Часов Яр, Новая Каховка, Ростов-на-Дону) found as a whole.

Each word of a rule is lemmatised on its own, and the first word of a name is often not a
form of the word it looks like: "Часов" is *час* to the dictionary while posts write
"в Часовом Яре"; a capitalised "Белой" reads as the first name Бела, not *белый*. So words of
a rule that form a name — one the gazetteer knows, or two capitalised words side by side —
also match as one unit: a run of post tokens, each one of the inflected forms of its word of
the name (Lemmatizer.name_forms), or of another spelling of the same place (Ukrainian,
Latin, older names) from the gazetteer. All of it is worked out when the rule is compiled;
matching a post looks tokens up exactly as for a phrase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Protocol

from bot.match.lemmas import Lemmatizer
from bot.match.normalize import _CYRILLIC_RE, tokenize

MAX_NAME_WORDS = 4  # the longest run of rule words looked up as one name
MAX_SPELLINGS = 12  # other spellings of one name taken from the gazetteer
MAX_SEQUENCES = 64  # token sequences one phrase may compile into

KeySeq = tuple[frozenset[str], ...]  # one set of acceptable keys per post token


class NameSource(Protocol):
    """Where the names of places come from (the gazetteer)."""

    def names_of(self, name: str) -> Sequence[str]:
        """Every name of the places called exactly ``name``; empty if there is none."""
        ...


@dataclass(frozen=True)
class NameRun:
    """Rule words ``start``…``end - 1`` form a name; ``spellings`` are its word tuples."""

    start: int
    end: int
    spellings: tuple[tuple[str, ...], ...]  # the typed words first


def find_names(words: Sequence[str], cased: Sequence[bool], known: NameSource | None,
               nameable: Callable[[str], bool] = lambda _: True) -> list[NameRun]:
    """The runs of consecutive rule words that form a name, left to right.

    Gazetteer names first (the longest at each position: "Белгород Старый Оскол" holds
    Старый Оскол), then capitalised pairs of ``nameable`` words among the rest; a single
    hyphenated word is a name of its own when the gazetteer knows it or it is capitalised
    and Cyrillic in every part (not FPV-дрон).
    """
    n = len(words)
    runs: list[NameRun] = []
    taken = [False] * n
    if known is not None:
        i = 0
        while i < n:
            for length in range(min(MAX_NAME_WORDS, n - i), 0, -1):
                run = tuple(words[i:i + length])
                if length == 1 and "-" not in run[0]:
                    continue
                names = [*known.names_of(" ".join(run))]
                if not names and length > 1:  # "Ростов на Дону" typed without hyphens
                    names = [*known.names_of("-".join(run))]
                if names:
                    runs.append(NameRun(i, i + length, _spellings(run, names)))
                    taken[i:i + length] = [True] * length
                    i += length
                    break
            else:
                i += 1
    capital = [i < len(cased) and cased[i] and not taken[i] and nameable(words[i])
               for i in range(n)]
    i = 0
    while i < n:
        if not capital[i]:
            i += 1
        elif i + 1 < n and capital[i + 1]:
            runs.append(NameRun(i, i + 2, ((words[i], words[i + 1]),)))
            i += 2
        else:
            parts = words[i].split("-")
            if len(parts) > 1 and all(_CYRILLIC_RE.search(p) for p in parts):
                runs.append(NameRun(i, i + 1, ((words[i],),)))
            i += 1
    return sorted(runs, key=lambda r: r.start)


def _spellings(typed: tuple[str, ...], names: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    out = [typed]
    for name in names:
        words = tuple(t.norm for t in tokenize(name))
        # a one-word name of the same place is no spelling of this one: "Красный Лиман" is
        # the old name of Лиман, and "лиман" alone is also an ordinary word
        if words and (len(words) > 1 or "-" in words[0]) and words not in out:
            out.append(words)
        if len(out) >= MAX_SPELLINGS:
            break
    return tuple(out)


def name_sequences(lemmatizer: Lemmatizer, run: NameRun) -> list[KeySeq]:
    """Token key sets for every spelling of a name (hyphenated ones also written apart)."""
    out: list[KeySeq] = []
    for spelling in run.spellings:
        variants = [spelling]
        if any("-" in w for w in spelling):  # Ростов-на-Дону is also written Ростов на Дону
            variants.append(tuple(p for w in spelling for p in w.split("-") if p))
        for words in variants:
            seq = tuple(lemmatizer.name_keys(w) for w in words)
            if seq not in out:
                out.append(seq)
    return out


def phrase_sequences(lemmatizer: Lemmatizer, words: Sequence[str], runs: Sequence[NameRun]
                     ) -> list[KeySeq]:
    """A phrase's token key sets: word by word as before, and with each name in any form."""
    segments: list[list[KeySeq]] = []
    i = 0
    for run in runs:
        segments += [[(lemmatizer.rule_keys(w),)] for w in words[i:run.start]]
        # the typed spelling's keys hold each word's own keys: word by word is covered
        segments.append(name_sequences(lemmatizer, run))
        i = run.end
    segments += [[(lemmatizer.rule_keys(w),)] for w in words[i:]]
    out: list[KeySeq] = []
    for combo in product(*segments):
        out.append(tuple(keys for part in combo for keys in part))
        if len(out) >= MAX_SEQUENCES:
            break
    return out
