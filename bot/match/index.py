"""All active rules compiled into one index; a post is tokenised and lemmatised once.

Each word, phrase and NEAR member of every rule becomes a *leaf* listed under its keys:
lemma keys (any form), the exact form (``=word``) or a prefix (``word*``, found by looking up
each token's prefixes). Words that form a name also become a leaf of their own, listed under
the inflected forms of the name (bot.match.names). Per post, every token is looked up once;
only rules with a hit on one of their leaves (or rules without indexable leaves, e.g.
``channel:@x`` alone) are evaluated. Places come from a PlaceFinder (bot.match.places): the
index never imports bot.regions, which builds on this package.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.match.analysis import TextAnalysis
from bot.match.lemmas import Lemmatizer
from bot.match.names import KeySeq, NameSource, find_names, name_sequences, phrase_sequences
from bot.match.normalize import Token, detect_lang
from bot.match.places import PlaceFinder, PlaceMention
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
    leaves,
    positive_leaves,
)

Span = tuple[int, int]
PLACE_MARK = "📍 "  # fired labels of region filters start so: alerts list those places
_PLAIN = (Word, Phrase, Name)  # leaves that are their own occurrences
_MEMBER_BITS = 6  # a leaf has at most 64 members (NEAR groups are limited by MAX_TERMS)


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
    places: list[PlaceMention] = field(default_factory=list)


@dataclass
class RuleIndex:
    """Leaf postings for every active rule."""

    lemmatizer: Lemmatizer
    places: PlaceFinder | None = None
    rules: list[CompiledRule] = field(default_factory=list)
    _queries: list[Node] = field(default_factory=list)  # each rule as compiled (with names)
    _leaf_nodes: list[Node] = field(default_factory=list)
    _leaf_rule: list[int] = field(default_factory=list)
    _leaf_ids: dict[tuple[int, int], int] = field(default_factory=dict)  # (rule, id(node))
    _forms: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _exact: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _prefix: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    _prefix_lengths: set[int] = field(default_factory=set)
    _unindexed: list[int] = field(default_factory=list)  # rules evaluated for every post
    _single: dict[int, bool] = field(default_factory=dict)  # rule is one word or phrase
    _region_targets: dict[int, frozenset[str]] = field(default_factory=dict)  # leaf -> ids
    _region_rules: list[int] = field(default_factory=list)  # evaluated when places are found
    _labels: list[str] = field(default_factory=list)  # leaf -> how it is shown in explain
    # (token form, proper) -> (slot, following phrase words) of every index entry it hits;
    # the same words recur post after post, so each is looked up in the index once
    _entry_cache: dict[tuple[str, bool], tuple[tuple[int, tuple[frozenset[str], ...]], ...]] = (
        field(default_factory=dict))

    @classmethod
    def build(cls, lemmatizer: Lemmatizer, rules: Iterable[CompiledRule],
              places: PlaceFinder | None = None) -> RuleIndex:
        """Compile every rule into a fresh index (cheap: rule words are lemmatised once).

        Raises the finder's ValueError (PlaceLookupError from bot.regions) for a region:
        filter that names no single place.
        """
        index = cls(lemmatizer, places)
        for rule in rules:
            index.add(rule)
        return index

    # ------------------------------------------------------------------ compiling
    def add(self, rule: CompiledRule) -> None:
        """Compile one more rule into the index (ValueError for an unknown place)."""
        # resolve places first: a rule that names no single place changes nothing
        regions = {id(n): self._region_ids(n.query) for n in leaves(rule.query)
                   if isinstance(n, RegionFilter)}
        rule_index = len(self.rules)
        sequences: dict[int, list[KeySeq]] = {}
        query = self._with_names(rule.query, sequences)
        self.rules.append(rule)
        self._queries.append(query)
        indexed = False
        for node in leaves(query):
            leaf = len(self._leaf_nodes)
            self._leaf_nodes.append(node)
            self._leaf_rule.append(rule_index)
            self._labels.append(node.render())
            self._leaf_ids[(rule_index, id(node))] = leaf
            if isinstance(node, Word):
                self._post_word(node.text, node.mode, _Entry(leaf, 0))
            elif isinstance(node, Phrase | Name):
                seqs = sequences.get(id(node)) or [
                    tuple(self.lemmatizer.rule_keys(w) for w in node.words)]
                for seq in seqs:
                    entry = _Entry(leaf, 0, tuple(("forms", keys) for keys in seq[1:]))
                    for key in seq[0]:
                        self._forms[key].append(entry)
            elif isinstance(node, Near):
                for member, word in enumerate(node.items):
                    self._post_word(word.text, word.mode, _Entry(leaf, member))
                self._post_near_names(node, leaf)
            elif isinstance(node, RegionFilter):
                self._region_targets[leaf] = regions[id(node)]
        regional = False
        for node in positive_leaves(query):
            if isinstance(node, Word | Phrase | Name | Near):
                indexed = True
            elif isinstance(node, RegionFilter):
                regional = True
        if regional:
            # evaluated whenever the post names a place: in "Запорожье OR region:UA-23" the
            # region alone may decide, though the rule has words the index looks up too
            self._region_rules.append(rule_index)
        elif not indexed:
            self._unindexed.append(rule_index)
        self._single[rule_index] = isinstance(query, Word | Phrase)

    def expanded(self, query: Node) -> tuple[Node, dict[int, list[KeySeq]]]:
        """A query as this index compiles it: names added, and each phrase's or name's token
        sequences by node id (the full-text index builds its candidate query from these)."""
        sequences: dict[int, list[KeySeq]] = {}
        return self._with_names(query, sequences), sequences

    def _with_names(self, node: Node, sequences: dict[int, list[KeySeq]]) -> Node:
        """The rule with every run of words that forms a name also matching as that name.

        Bare words keep their meaning and gain the name: ``Часов Яр`` is
        ``(Часов Яр as a name) OR (часов AND яр)``, so nothing a rule found before is lost.
        A phrase gets the name's forms as more token sequences of the same leaf (kept in
        ``sequences`` by node id).
        """
        if isinstance(node, Phrase):
            runs = find_names(node.words, node.cased, self._names(),
                              self.lemmatizer.nameable)
            if runs:
                sequences[id(node)] = phrase_sequences(self.lemmatizer, node.words, runs)
            return node
        if isinstance(node, Word):
            return self._named_run([node], sequences)[0]
        if isinstance(node, Not):
            return Not(self._with_names(node.item, sequences))
        if isinstance(node, Or):
            return Or(tuple(self._with_names(i, sequences) for i in node.items))
        if isinstance(node, And):
            items: list[Node] = []
            run: list[Word] = []
            for item in (*node.items, None):
                if isinstance(item, Word) and item.mode == "forms":
                    run.append(item)
                    continue
                items += self._named_run(run, sequences)
                run = []
                if item is not None:
                    items.append(self._with_names(item, sequences))
            return items[0] if len(items) == 1 else And(tuple(items))
        return node

    def _named_run(self, words: list[Word], sequences: dict[int, list[KeySeq]]) -> list[Node]:
        """Consecutive bare words, with those that form a name also matching as it."""
        if not words or all(w.mode != "forms" for w in words):
            return list(words)
        runs = find_names([w.text for w in words], [w.cased for w in words], self._names(),
                          self.lemmatizer.nameable)
        out: list[Node] = []
        i = 0
        for run in runs:
            out += words[i:run.start]
            name = Name(tuple(w.text for w in words[run.start:run.end]))
            sequences[id(name)] = name_sequences(self.lemmatizer, run)
            group = words[run.start:run.end]
            out.append(Or((name, group[0] if len(group) == 1 else And(tuple(group)))))
            i = run.end
        out += words[i:]
        return out

    def _post_near_names(self, node: Near, leaf: int) -> None:
        """NEAR/5(Часов Яр дрон): every word of a name is also present where the name is."""
        words = [w.text if w.mode == "forms" else "" for w in node.items]
        cased = [w.cased and w.mode == "forms" for w in node.items]
        for run in find_names(words, cased, self._names(), self.lemmatizer.nameable):
            if not all(words[run.start:run.end]):
                continue  # an =exact or prefix* word is no part of a name
            for seq in name_sequences(self.lemmatizer, run):
                rest = tuple(("forms", keys) for keys in seq[1:])
                for member in range(run.start, run.end):
                    entry = _Entry(leaf, member, rest)
                    for key in seq[0]:
                        self._forms[key].append(entry)

    def _names(self) -> NameSource | None:
        return self.places.names if self.places is not None else None

    def _region_ids(self, query: str) -> frozenset[str]:
        if self.places is None:
            raise ValueError("region: filters need the gazetteer, which is not loaded")
        return self.places.places_in(query)

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
    def analyse(self, text: str) -> TextAnalysis:
        """``text`` read with this index's lemmatizer, to share with ``match`` and others."""
        return TextAnalysis.of(text, self.lemmatizer)

    def match(self, text: str, channel: str | None = None,
              analysis: TextAnalysis | None = None) -> list[MatchHit]:
        """Every rule that matches ``text`` (posted in channel ``channel``), with spans.

        ``analysis``: the text already read (``analyse``), so that its tokens, keys and
        places are not computed again.
        """
        if not self.rules:
            return []
        if analysis is None or analysis.text != text:
            analysis = self.analyse(text)
        tokens = analysis.tokens
        post = _Post(tokens, analysis.keys, channel.lower() if channel else None, None)
        # slot (leaf << 6 | member) -> (first, last) token positions of each occurrence
        found: dict[int, list[tuple[int, int]]] = {}
        cache = self._entry_cache
        keys = post.keys
        for pos, token in enumerate(tokens):
            entries = cache.get((token.norm, token.proper))
            if entries is None:
                if len(cache) > 300_000:
                    cache.clear()
                entries = cache[(token.norm, token.proper)] = tuple(
                    ((e.leaf << _MEMBER_BITS) | e.member, tuple(k for _, k in e.rest))
                    for e in self._entries_for(token, keys[pos]))
            for slot, rest in entries:
                end = pos
                if rest:
                    end = pos + len(rest)
                    if end >= len(tokens) or keys[pos + 1].isdisjoint(rest[0]):
                        continue  # most phrases and names are two words: checked inline
                    if len(rest) > 1 and any(keys[pos + 1 + k].isdisjoint(want)
                                             for k, want in enumerate(rest) if k):
                        continue
                occurrences = found.get(slot)
                if occurrences is None:
                    found[slot] = [(pos, end)]
                else:
                    occurrences.append((pos, end))
        leaf_rule = self._leaf_rule
        candidates = {leaf_rule[slot >> _MEMBER_BITS] for slot in found}
        candidates.update(self._unindexed)
        if self._region_targets and self.places is not None:
            post.places = analysis.mentions(self.places)
            if post.places:
                candidates.update(self._region_rules)
        hits = []
        for rule_index in sorted(candidates):
            rule = self.rules[rule_index]
            query = self._queries[rule_index]
            if self._single[rule_index]:
                # one word or phrase: the hit is its occurrences, no tree to evaluate
                leaf = self._leaf_ids[(rule_index, id(query))]
                occurrences = found[leaf << _MEMBER_BITS]
                single = [(tokens[a].start, tokens[b].end) for a, b in occurrences]
                hits.append(MatchHit(rule.rule_id, rule.chat_id, _outermost(single),
                                     (self._labels[leaf],)))
                continue
            ok, spans, fired = self._eval(rule_index, query, post, found)
            if ok:
                hits.append(MatchHit(rule.rule_id, rule.chat_id, _outermost(spans),
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

    def _eval(
        self, rule_index: int, node: Node, post: _Post, found: dict[int, list[tuple[int, int]]],
    ) -> tuple[bool, list[Span], list[str]]:
        # Words, phrases and names inside AND / OR are looked up inline: most candidate rules
        # fail on a missing word, and a call per leaf is most of the cost of rejecting them.
        if isinstance(node, And | Or):
            conjunction = isinstance(node, And)
            any_ok = False
            spans: list[Span] = []
            fired: list[str] = []
            leaf_ids, tokens = self._leaf_ids, post.tokens
            for item in node.items:
                if isinstance(item, _PLAIN):
                    leaf = leaf_ids[(rule_index, id(item))]
                    occurrences = found.get(leaf << _MEMBER_BITS)
                    ok = bool(occurrences)
                    if ok:
                        spans += [(tokens[a].start, tokens[b].end) for a, b in occurrences or ()]
                        fired.append(self._labels[leaf])
                else:
                    ok, s, f = self._eval(rule_index, item, post, found)
                    if ok:
                        spans += s
                        fired += f
                if conjunction and not ok:
                    return False, [], []
                any_ok = any_ok or ok
            return any_ok, spans, fired
        if isinstance(node, _PLAIN):
            leaf = self._leaf_ids[(rule_index, id(node))]
            occurrences = found.get(leaf << _MEMBER_BITS)
            if not occurrences:
                return False, [], []
            tokens = post.tokens
            return True, [(tokens[a].start, tokens[b].end) for a, b in occurrences], [
                self._labels[leaf]]
        if isinstance(node, Not):
            ok, _, _ = self._eval(rule_index, node.item, post, found)
            return not ok, [], []
        if isinstance(node, ChannelFilter):
            return post.channel == node.username, [], []
        if isinstance(node, RegionFilter):
            targets = self._region_targets[self._leaf_ids[(rule_index, id(node))]]
            inside = [m for m in post.places if m.place_id in targets]
            labels = [f"{PLACE_MARK}{m.label}, {m.region_label}" for m in inside]
            return bool(inside), [(m.start, m.end) for m in inside], labels
        if isinstance(node, LangFilter):
            if post.lang is None:
                post.lang = detect_lang(" ".join(t.norm for t in post.tokens)) or ""
            return post.lang == node.lang, [], []
        if not isinstance(node, Near):
            raise TypeError(f"cannot evaluate {node!r}")
        leaf = self._leaf_ids[(rule_index, id(node))]
        members = {m: found.get((leaf << _MEMBER_BITS) | m, []) for m in range(len(node.items))}
        spans = _near_spans(node, members, post.tokens)
        return bool(spans), spans, [self._labels[leaf]] if spans else []


def _outermost(spans: list[Span]) -> tuple[Span, ...]:
    """Sorted spans without those that lie inside another ("Часовом" inside "Часовом Яре")."""
    out: list[Span] = []
    reach = -1
    for start, end in sorted(set(spans), key=lambda s: (s[0], -s[1])):
        if end > reach:
            out.append((start, end))
            reach = end
    return tuple(out)


def _near_spans(node: Near, members: dict[int, list[tuple[int, int]]],
                tokens: list[Token]) -> list[Span]:
    """Spans of the members in every window of at most ``distance`` words holding all of them.

    A sliding window over the merged, sorted positions: linear in the number of occurrences
    (trying every combination would be exponential in the number of members).
    """
    events = sorted({(p, m, e) for m, occurrences in members.items() for p, e in occurrences})
    need = len(node.items)
    if len({m for _, m, _ in events}) < need:
        return []
    counts: dict[int, int] = {}
    spans: set[Span] = set()
    left = 0
    for right, (position, member, _) in enumerate(events):
        counts[member] = counts.get(member, 0) + 1
        while position - events[left][0] > node.distance:
            old = events[left][1]
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
            left += 1
        if len(counts) == need:
            spans.update((tokens[p].start, tokens[e].end) for p, _, e in events[left:right + 1])
    return sorted(spans)
