"""All active rules compiled into one lemma index; a post is tokenised and lemmatised once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.match.lemmas import Lemmatizer
from bot.match.normalize import tokenize
from bot.match.rules import RuleQuery, Term

Span = tuple[int, int]


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready for matching."""

    rule_id: int
    chat_id: int
    query: RuleQuery


@dataclass(frozen=True)
class MatchHit:
    """A rule that matched a text, with the spans of every positive term occurrence."""

    rule_id: int
    chat_id: int
    spans: tuple[Span, ...]


@dataclass
class _TermEntry:
    rule_index: int
    term_index: int
    rest: tuple[frozenset[str], ...]  # lemma keys of a phrase's following words


@dataclass
class RuleIndex:
    """Lemma → term postings; only rules that got a hit are evaluated."""

    lemmatizer: Lemmatizer
    rules: list[CompiledRule] = field(default_factory=list)
    _postings: dict[str, list[_TermEntry]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, lemmatizer: Lemmatizer, rules: Iterable[CompiledRule]) -> RuleIndex:
        """Compile every rule into a fresh index."""
        index = cls(lemmatizer)
        for rule in rules:
            index._add(rule)
        return index

    def _term_keys(self, word: str) -> frozenset[str]:
        # A rule word matches a token when they share a normal form; the word itself counts
        # too so that words unknown to the dictionaries still match their exact form.
        return self.lemmatizer.keys(word)

    def _add(self, rule: CompiledRule) -> None:
        rule_index = len(self.rules)
        self.rules.append(rule)
        for term_index, term in enumerate(rule.query.terms):
            first, *rest = term.words
            entry = _TermEntry(rule_index, term_index, tuple(self._term_keys(w) for w in rest))
            for key in self._term_keys(first):
                self._postings[key].append(entry)

    def match(self, text: str) -> list[MatchHit]:
        """Return every rule that matches ``text``, with highlight spans."""
        if not self.rules or not text:
            return []
        tokens = tokenize(text)
        token_keys = [self.lemmatizer.keys(t.norm) for t in tokens]
        # (rule, term) -> spans where that term occurs
        found: dict[tuple[int, int], list[Span]] = defaultdict(list)
        for pos, keys in enumerate(token_keys):
            seen: set[int] = set()
            for key in keys:
                for entry in self._postings.get(key, ()):
                    if id(entry) in seen:
                        continue
                    seen.add(id(entry))
                    end = pos + len(entry.rest)
                    if end >= len(tokens):
                        continue
                    if all(token_keys[pos + 1 + k] & want for k, want in enumerate(entry.rest)):
                        found[(entry.rule_index, entry.term_index)].append(
                            (tokens[pos].start, tokens[end].end)
                        )
        candidates = {rule_index for rule_index, _ in found}
        hits: list[MatchHit] = []
        for rule_index in sorted(candidates):
            rule = self.rules[rule_index]
            spans: list[Span] = []
            ok = True
            for term_index, term in enumerate(rule.query.terms):
                occurrences = found.get((rule_index, term_index))
                if _violates(term, occurrences):
                    ok = False
                    break
                if occurrences and not term.negated:
                    spans.extend(occurrences)
            if ok:
                hits.append(MatchHit(rule.rule_id, rule.chat_id, tuple(sorted(set(spans)))))
        return hits


def _violates(term: Term, occurrences: list[Span] | None) -> bool:
    return bool(occurrences) if term.negated else not occurrences
