"""The first rule language: words in any form, "quoted phrases", -exclusions, implicit AND.

The full language (OR, NOT, parentheses, prefixes, NEAR, filters) replaces this parser later;
the index in bot/match/index.py only depends on the ``RuleQuery`` it produces.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.match.normalize import tokenize

MAX_RULE_LENGTH = 500
MAX_TERMS = 20
_UNSUPPORTED = {"OR", "NOT"}


class RuleSyntaxError(ValueError):
    """A rule could not be understood; ``position`` is a 0-based character offset."""

    def __init__(self, message: str, position: int, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.rule = rule

    def pointer(self) -> str:
        """The rule with a caret under the offending position, for a reply."""
        return f"{self.rule}\n{' ' * self.position}^"


@dataclass(frozen=True)
class Term:
    """One word or phrase of a rule, as normalised words."""

    words: tuple[str, ...]
    negated: bool = False

    def render(self) -> str:
        """Show the term the way the parser understood it."""
        body = self.words[0] if len(self.words) == 1 else '"' + " ".join(self.words) + '"'
        return ("NOT " if self.negated else "") + body


@dataclass(frozen=True)
class RuleQuery:
    """A parsed rule: every positive term must occur, no negated term may."""

    terms: tuple[Term, ...]

    def render(self) -> str:
        """The canonical form shown back to the user."""
        return " AND ".join(t.render() for t in self.terms)


def parse_rule(text: str) -> RuleQuery:
    """Parse one rule line or raise RuleSyntaxError pointing at the problem."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(
            f"the rule is longer than {MAX_RULE_LENGTH} characters", MAX_RULE_LENGTH, text
        )
    terms: list[Term] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        negated = False
        if ch == "-":
            negated = True
            i += 1
            if i >= n or text[i].isspace():
                raise RuleSyntaxError("expected a word or a quoted phrase after '-'", i, text)
        if text[i] in "\"«“„":
            close = {"\"": "\"", "«": "»", "“": "”", "„": "“"}[text[i]]
            end = text.find(close, i + 1)
            if end < 0:
                raise RuleSyntaxError(f"expected a closing {close} for this quote", i, text)
            words = tuple(t.norm for t in tokenize(text[i + 1:end]))
            if not words:
                raise RuleSyntaxError("expected words inside the quotes", i, text)
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "\"«“„":
                j += 1
            raw = text[i:j]
            if raw in ("(", ")") or raw.startswith(("(", ")")):
                raise RuleSyntaxError("parentheses are not supported yet", i, text)
            if raw in _UNSUPPORTED and not negated:
                raise RuleSyntaxError(
                    f"{raw} is not supported yet: words are combined with AND;"
                    " exclude a word with -word",
                    i, text,
                )
            if raw == "AND" and not negated:
                i = j
                continue
            tokens = tokenize(raw)
            if not tokens:
                raise RuleSyntaxError(f"expected a word, found {raw!r}", i, text)
            words = tuple(t.norm for t in tokens)
            i = j
        terms.append(Term(words, negated))
        if len(terms) > MAX_TERMS:
            raise RuleSyntaxError(f"a rule may have at most {MAX_TERMS} terms", start, text)
    if not any(not t.negated for t in terms):
        raise RuleSyntaxError("expected at least one word to look for", len(text), text)
    return RuleQuery(tuple(terms))
