"""A query of the rule language as an FTS5 query that finds every post it can match.

The FTS5 expression is built from the parsed rule, never from the text typed: every term is
a quoted string (``"…"``, inner quotes doubled) made by ``fts_token``, so nothing a user
types is read as FTS5 syntax. The expression finds a *superset* of the posts the matcher
accepts; ``exact`` says whether it finds precisely those (then counts come from SQL alone
and only the posts shown are run through the matcher for their spans):

    word (any form)       OR of its rule keys                    exact
    =word, word*          the form, the prefix                   candidates (lemmas match too)
    "a phrase", names     AND of each word's forms               candidates (no positions)
    NEAR/n(a b)           AND of the members                     candidates
    region:x              the place's term p_<id>                exact (terms hold lineages)
    channel:@x            an SQL condition when ANDed at the top exact; elsewhere candidates
    lang:xx               no condition                           candidates
    NOT a                 `… NOT a` when a is exact; else dropped candidates
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.archive.terms import fts_token, place_term
from bot.match.index import RuleIndex
from bot.match.lemmas import Lemmatizer
from bot.match.names import KeySeq
from bot.match.query import (
    And,
    ChannelFilter,
    LangFilter,
    Name,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    RegionFilter,
    Word,
)

NO_CHANNEL = "@none"  # a channel condition no channel meets
MAX_TERMS_PER_WORD = 400  # a name's forms; more than that and the word stays unconstrained


@dataclass(frozen=True)
class FtsQuery:
    """What the store runs: the MATCH expression (None: every post), the channels the posts
    must be in (usernames, lower case; empty: any), and whether it is the whole answer."""

    match: str | None
    channels: tuple[str, ...]
    exact: bool


@dataclass(frozen=True)
class _Part:
    expr: str | None  # None: no condition (every post)
    exact: bool


def quote(term: str) -> str:
    """One FTS5 string: the term in double quotes, inner double quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


def _any_of(keys: frozenset[str] | set[str]) -> str | None:
    tokens = sorted({fts_token(k) for k in keys if k})
    if not tokens or len(tokens) > MAX_TERMS_PER_WORD:
        return None
    if len(tokens) == 1:
        return quote(tokens[0])
    return "(" + " OR ".join(quote(t) for t in tokens) + ")"


def _all_of(parts: list[str | None]) -> str | None:
    present = [p for p in parts if p]
    if not present:
        return None
    return present[0] if len(present) == 1 else "(" + " AND ".join(present) + ")"


class FtsCompiler:
    """Builds FtsQuery objects with the matcher's own word forms and place resolution."""

    def __init__(self, lemmatizer: Lemmatizer, index: RuleIndex,
                 place_id: Callable[[str], str] | None) -> None:
        self._lemmatizer = lemmatizer
        self._index = index
        self._place_id = place_id  # region query -> the place's id (raises ValueError)

    def compile(self, query: Node) -> FtsQuery:
        """The FTS5 query for a parsed rule (names expanded as the matcher expands them)."""
        expanded, sequences = self._index.expanded(query)
        channels: list[str] = []
        items = expanded.items if isinstance(expanded, And) else (expanded,)
        rest: list[Node] = []
        for item in items:
            if isinstance(item, ChannelFilter):
                channels.append(item.username.lower())
            else:
                rest.append(item)
        if len(set(channels)) > 1:
            # two different channels ANDed: nothing can match (no username holds "@")
            return FtsQuery(None, (NO_CHANNEL,), True)
        parts = [self._part(n, sequences) for n in rest]
        positive = [p for p, n in zip(parts, rest, strict=True) if not isinstance(n, Not)]
        negative = [p for p, n in zip(parts, rest, strict=True) if isinstance(n, Not)]
        exact = all(p.exact for p in parts)
        expr = _all_of([p.expr for p in positive])
        excluded = [p.expr for p in negative if p.exact and p.expr]
        if expr is not None and excluded:
            expr = f"{expr} NOT " + (excluded[0] if len(excluded) == 1
                                     else "(" + " OR ".join(excluded) + ")")
        elif expr is None and negative:
            exact = False  # FTS5 cannot say "not x" alone: every post is a candidate
        return FtsQuery(expr, tuple(sorted(set(channels))), exact)

    def _part(self, node: Node, sequences: dict[int, list[KeySeq]]) -> _Part:
        if isinstance(node, Not):
            inner = self._part(node.item, sequences)
            # the caller turns an exact inner part into "… NOT inner"; under an OR it is lost
            return _Part(inner.expr, inner.exact)
        if isinstance(node, And):
            parts = [self._part(i, sequences) for i in node.items]
            pos = [p for p, i in zip(parts, node.items, strict=True) if not isinstance(i, Not)]
            neg = [p for p, i in zip(parts, node.items, strict=True) if isinstance(i, Not)]
            expr = _all_of([p.expr for p in pos])
            exact = all(p.exact for p in pos)
            excluded = [p.expr for p in neg if p.exact and p.expr]
            if expr is not None and excluded:
                expr = f"({expr} NOT " + (excluded[0] if len(excluded) == 1
                                          else "(" + " OR ".join(excluded) + ")") + ")"
            exact = exact and len(excluded) == len(neg) and (expr is not None or not neg)
            return _Part(expr, exact)
        if isinstance(node, Or):
            parts = [self._part(i, sequences) for i in node.items]
            if any(p.expr is None for p in parts) or any(isinstance(i, Not) for i in node.items):
                return _Part(None, False)
            return _Part("(" + " OR ".join(str(p.expr) for p in parts) + ")",
                         all(p.exact for p in parts))
        if isinstance(node, Word):
            return self._word(node)
        if isinstance(node, Phrase | Name):
            seqs = sequences.get(id(node)) or [
                tuple(self._lemmatizer.rule_keys(w) for w in node.words)]
            options = [_all_of([_any_of(keys) for keys in seq]) for seq in seqs]
            if any(o is None for o in options):
                return _Part(None, False)
            unique = sorted(set(str(o) for o in options))
            return _Part(unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")",
                         False)
        if isinstance(node, Near):
            return _Part(_all_of([self._word(w).expr for w in node.items]), False)
        if isinstance(node, RegionFilter):
            if self._place_id is None:
                return _Part(None, False)
            return _Part(quote(place_term(self._place_id(node.query))), True)
        if isinstance(node, ChannelFilter | LangFilter):
            return _Part(None, False)
        raise TypeError(f"cannot compile {node!r}")

    def _word(self, word: Word) -> _Part:
        if word.mode == "exact":
            return _Part(quote(fts_token(word.text)), False)
        if word.mode == "prefix":
            return _Part(quote(fts_token(word.text)) + " *", False)
        expr = _any_of(self._lemmatizer.rule_keys(word.text))
        return _Part(expr, expr is not None)
