"""All active rules compiled into one index; a post is tokenised and lemmatised once.

Each word, phrase and NEAR member of every rule becomes a *leaf* listed under its keys:
lemma keys (any form), the exact form (``=word``) or a prefix (``word*``, found by looking up
each token's prefixes). Per post, every token is looked up once; only rules with a hit on one
of their leaves (or rules without indexable leaves, e.g. ``channel:@x`` alone) are evaluated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import product

from bot.match.lemmas import Lemmatizer
from bot.match.normalize import Token, detect_lang, tokenize
from bot.match.query import (
    And,
    ChannelFilter,
    LangFilter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Word,
    leaves,
    positive_leaves,
)

Span = tuple[int, int]


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready for matching."""

    rule_id: int
    chat_id: int
    query: Node


@dataclass(frozen=True)
class MatchHit:
    """A rule that matched, the character spans that fired and the terms behind them."""

    rule_id: int
    chat_id: int
    spans: tuple[Span, ...]
    fired: tuple[str, ...] = ()


@dataclass
class _Entry:
    """One indexed word of a leaf: which leaf, which member, and a phrase's following words."""

    leaf: int
    member: int
    rest: tuple[tuple[str, frozenset[str]], ...] = ()  # (mode, keys) of following words


@dataclass
class _Post:
    tokens: list[Token]
    keys: list[frozenset[str]]
    channel: str | None
    lang: str | None


@dataclass
class RuleIndex:
    """Leaf postings for every active rule."""

    lemmatizer: Lemmatizer
    rules: list[CompiledRule] = field(default_factory=list)
    _leaf_nodes: list[Node] = field(default_factory=list)
    _leaf_rule: list[int] = field(default_factory=list)
    _leaf_ids: dict[tuple[int, int], int] = field(default_factory=dict)  # (rule, id(node))
    _forms: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _exact: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _prefix: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _prefix_lengths: set[int] = field(default_factory=set)
    _unindexed: list[int] = field(default_factory=list)  # rules evaluated for every post

    @classmethod
    def build(cls, lemmatizer: Lemmatizer, rules: Iterable[CompiledRule]) -> RuleIndex:
        """Compile every rule into a fresh index (cheap: rule words are lemmatised once)."""
        index = cls(lemmatizer)
        for rule in rules:
            index._add(rule)
        return index

    # ------------------------------------------------------------------ compiling
    def _add(self, rule: CompiledRule) -> None:
        rule_index = len(self.rules)
        self.rules.append(rule)
        indexed = False
        for node in leaves(rule.query):
            leaf = len(self._leaf_nodes)
            self._leaf_nodes.append(node)
            self._leaf_rule.append(rule_index)
            self._leaf_ids[(rule_index, id(node))] = leaf
            if isinstance(node, Word):
                self._post_word(node.text, node.mode, _Entry(leaf, 0))
            elif isinstance(node, Phrase):
                rest = tuple(("forms", self.lemmatizer.rule_keys(w)) for w in node.words[1:])
                self._post_word(node.words[0], "forms", _Entry(leaf, 0, rest))
            elif isinstance(node, Near):
                for member, word in enumerate(node.items):
                    self._post_word(word.text, word.mode, _Entry(leaf, member))
        for node in positive_leaves(rule.query):
            if isinstance(node, Word | Phrase | Near):
                indexed = True
        if not indexed:
            self._unindexed.append(rule_index)

    def _post_word(self, text: str, mode: str, entry: _Entry) -> None:
        if mode == "exact":
            self._exact[text].append(entry)
        elif mode == "prefix":
            self._prefix[text].append(entry)
            self._prefix_lengths.add(len(text))
        else:
            for key in self.lemmatizer.rule_keys(text):
                self._forms[key].append(entry)

    # ------------------------------------------------------------------ matching
    def match(self, text: str, channel: str | None = None) -> list[MatchHit]:
        """Every rule that matches ``text`` (posted in channel ``channel``), with spans."""
        if not self.rules:
            return []
        tokens = tokenize(text)
        post = _Post(tokens, [self.lemmatizer.keys(t.norm, t.proper) for t in tokens],
                     channel.lower() if channel else None, None)
        # leaf -> member -> token positions (for phrases: positions of the first word)
        found: dict[int, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
        for pos, token in enumerate(tokens):
            for entry in self._entries_for(token, post.keys[pos]):
                end = self._phrase_end(post, pos, entry)
                if end is not None:
                    found[entry.leaf][entry.member].append((pos, end))
        candidates = {self._leaf_rule[leaf] for leaf in found}
        candidates.update(self._unindexed)
        hits = []
        for rule_index in sorted(candidates):
            rule = self.rules[rule_index]
            ok, spans, fired = self._eval(rule_index, rule.query, post, found)
            if ok:
                hits.append(MatchHit(rule.rule_id, rule.chat_id, tuple(sorted(set(spans))),
                                     tuple(dict.fromkeys(fired))))
        return hits

    def _entries_for(self, token: Token, keys: frozenset[str]) -> list[_Entry]:
        entries: list[_Entry] = []
        seen: set[int] = set()
        for key in keys:
            for entry in self._forms.get(key, ()):
                if id(entry) not in seen:
                    seen.add(id(entry))
                    entries.append(entry)
        entries.extend(self._exact.get(token.norm, ()))
        if self._prefix:
            for length in self._prefix_lengths:
                if length <= len(token.norm):
                    entries.extend(self._prefix.get(token.norm[:length], ()))
        return entries

    @staticmethod
    def _phrase_end(post: _Post, pos: int, entry: _Entry) -> int | None:
        end = pos + len(entry.rest)
        if end >= len(post.tokens):
            return None
        for k, (_, want) in enumerate(entry.rest):
            if not post.keys[pos + 1 + k] & want:
                return None
        return end

    def _eval(
        self, rule_index: int, node: Node, post: _Post,
        found: dict[int, dict[int, list[tuple[int, int]]]],
    ) -> tuple[bool, list[Span], list[str]]:
        if isinstance(node, And):
            spans: list[Span] = []
            fired: list[str] = []
            for item in node.items:
                ok, s, f = self._eval(rule_index, item, post, found)
                if not ok:
                    return False, [], []
                spans += s
                fired += f
            return True, spans, fired
        if isinstance(node, Or):
            any_ok, spans, fired = False, [], []
            for item in node.items:
                ok, s, f = self._eval(rule_index, item, post, found)
                if ok:
                    any_ok = True
                    spans += s
                    fired += f
            return any_ok, spans, fired
        if isinstance(node, Not):
            ok, _, _ = self._eval(rule_index, node.item, post, found)
            return not ok, [], []
        if isinstance(node, ChannelFilter):
            return post.channel == node.username, [], []
        if isinstance(node, LangFilter):
            if post.lang is None:
                post.lang = detect_lang(" ".join(t.norm for t in post.tokens)) or ""
            return post.lang == node.lang, [], []
        leaf = self._leaf_ids[(rule_index, id(node))]
        members = found.get(leaf)
        if not members:
            return False, [], []
        tokens = post.tokens
        if isinstance(node, Near):
            spans = _near_spans(node, members, tokens)
            return bool(spans), spans, [node.render()] if spans else []
        spans = [(tokens[a].start, tokens[b].end) for a, b in members[0]]
        return True, spans, [node.render()]


def _near_spans(node: Near, members: dict[int, list[tuple[int, int]]],
                tokens: list[Token]) -> list[Span]:
    """Spans of the members for every window where all of them lie within the distance."""
    lists = [sorted({p for p, _ in members.get(m, [])}) for m in range(len(node.items))]
    if any(not positions for positions in lists):
        return []
    spans: set[Span] = set()
    # positions lists are short (a word occurs a few times per post): try the combinations
    for combo in product(*lists):
        if len(set(combo)) == len(combo) and max(combo) - min(combo) <= node.distance:
            spans.update((tokens[p].start, tokens[p].end) for p in combo)
    return sorted(spans)
