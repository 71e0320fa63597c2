"""The rule language: one line typed in a chat, parsed into an AST with positioned errors.

    word          any grammatical form (Russian and Ukrainian dictionaries)
    "two words"   consecutive words, each in any form
    Часов Яр      words that form a name (in the gazetteer, or capitalised side by side) also
                  match the name as a whole, in any form: «в Часовом Яре» (bot.match.names)
    =word         exactly this form
    word*         any word starting with this prefix (3 letters at least)
    a AND b, a b  both (AND is implied between terms)
    a OR b        either
    NOT a, -a     not
    ( … )         grouping
    NEAR/5(a b)   all within 5 words of each other
    channel:@name only posts of that channel
    region:place  posts that mention the place or anything in it (region:belgorod,
                  region:"Шебекино", region:UA-63)
    lang:ru|uk    only posts in that language
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

from bot.match.normalize import normalize_word, tokenize

MAX_LENGTH = 500
MAX_TERMS = 30
MAX_DEPTH = 8
MIN_PREFIX = 3
_OPEN_QUOTES = {'"': '"', "«": "»", "“": "”", "„": "“"}
_NEAR_RE = re.compile(r"NEAR/(.*)")
_CHANNEL_RE = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
LANGS = ("ru", "uk")


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
class Word:
    """One word: any form (``forms``), this form only (``exact``) or a ``prefix``."""

    text: str
    mode: str = "forms"
    # typed with a capital letter: two such words side by side may be a name (Часов Яр)
    cased: bool = field(default=False, compare=False)

    def render(self) -> str:
        return {"forms": self.text, "exact": f"={self.text}", "prefix": f"{self.text}*"}[self.mode]


@dataclass(frozen=True)
class Phrase:
    """Consecutive words, each in any form."""

    words: tuple[str, ...]
    cased: tuple[bool, ...] = field(default=(), compare=False)  # per word, as in Word

    def render(self) -> str:
        return '"' + " ".join(self.words) + '"'


@dataclass(frozen=True)
class Name:
    """Words that form a name (Часов Яр), matched as a whole in any inflected form.

    Never parsed: the index makes it from a rule's words, next to the words themselves.
    """

    words: tuple[str, ...]

    def render(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Near:
    """All items within ``distance`` words of each other."""

    distance: int
    items: tuple[Word, ...]

    def render(self) -> str:
        return f"NEAR/{self.distance}(" + " ".join(i.render() for i in self.items) + ")"


@dataclass(frozen=True)
class ChannelFilter:
    """Only posts of this channel (by username)."""

    username: str

    def render(self) -> str:
        return f"channel:@{self.username}"


@dataclass(frozen=True)
class LangFilter:
    """Only posts in this language."""

    lang: str

    def render(self) -> str:
        return f"lang:{self.lang}"


@dataclass(frozen=True)
class RegionFilter:
    """Posts that mention this place or anything inside it (resolved with the gazetteer)."""

    query: str

    def render(self) -> str:
        shown = f'"{self.query}"' if " " in self.query else self.query
        return f"region:{shown}"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def render(self) -> str:
        return " AND ".join(_grouped(i) for i in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def render(self) -> str:
        return " OR ".join(_grouped(i) for i in self.items)


@dataclass(frozen=True)
class Not:
    item: Node

    def render(self) -> str:
        return "NOT " + _grouped(self.item)


Node: TypeAlias = (Word | Phrase | Name | Near | ChannelFilter | LangFilter | RegionFilter | And
                  | Or | Not)
Leaf: TypeAlias = Word | Phrase | Name | Near


def _grouped(node: Node) -> str:
    text = node.render()
    return f"({text})" if isinstance(node, And | Or) else text


def leaves(node: Node) -> list[Node]:
    """Every leaf of the tree (words, phrases, NEAR groups and filters), left to right."""
    if isinstance(node, And | Or):
        return [leaf for item in node.items for leaf in leaves(item)]
    if isinstance(node, Not):
        return leaves(node.item)
    return [node]


def positive_leaves(node: Node, negated: bool = False) -> list[Node]:
    """The leaves that must be present for the rule to match (not under a NOT)."""
    if isinstance(node, And | Or):
        return [leaf for item in node.items for leaf in positive_leaves(item, negated)]
    if isinstance(node, Not):
        return positive_leaves(node.item, not negated)
    return [] if negated else [node]


# ------------------------------------------------------------------------------- lexer
@dataclass(frozen=True)
class _Tok:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT MINUS NEAR END
    text: str
    pos: int
    value: object = None


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            toks.append(_Tok("LPAREN" if ch == "(" else "RPAREN", ch, i))
            i += 1
        elif ch in _OPEN_QUOTES:
            close = _OPEN_QUOTES[ch]
            end = text.find(close, i + 1)
            if end < 0:
                raise RuleSyntaxError(f"expected a closing {close} for this quote", i, text)
            toks.append(_Tok("PHRASE", text[i + 1:end], i))
            i = end + 1
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace():
            toks.append(_Tok("MINUS", ch, i))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "()" \
                    and text[j] not in _OPEN_QUOTES:
                j += 1
            raw = text[i:j]
            near = _NEAR_RE.fullmatch(raw)
            if raw in ("AND", "OR", "NOT"):
                toks.append(_Tok(raw, raw, i))
            elif near or raw == "NEAR":
                digits = near.group(1) if near else ""
                if not (digits.isascii() and digits.isdigit()):
                    raise RuleSyntaxError("expected a number of words after NEAR/, e.g."
                                          " NEAR/5(дрон Шебекино)", i + len(raw), text)
                toks.append(_Tok("NEAR", raw, i, int(digits)))
            else:
                toks.append(_Tok("WORD", raw, i))
            i = j
    toks.append(_Tok("END", "", n))
    return toks


# ------------------------------------------------------------------------------ parser
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.terms = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, pos: int) -> RuleSyntaxError:
        return RuleSyntaxError(message, pos, self.text)

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise self.error("expected a word to look for", 0)
        node = self.or_expr(0)
        tok = self.peek()
        if tok.kind == "RPAREN":
            raise self.error("unexpected ')': there is no '(' to close", tok.pos)
        if tok.kind != "END":
            raise self.error(f"unexpected {tok.text!r}", tok.pos)
        return node

    def or_expr(self, depth: int) -> Node:
        items = [self.and_expr(depth)]
        while self.peek().kind == "OR":
            op = self.take()
            if self.peek().kind in ("END", "RPAREN", "OR", "AND"):
                raise self.error("expected a word, a phrase or '(' after OR", self.peek().pos
                                 if self.peek().kind != "END" else op.pos + len(op.text))
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Node:
        items = [self.unary(depth)]
        while self.peek().kind not in ("END", "RPAREN", "OR"):
            if self.peek().kind == "AND":
                op = self.take()
                if self.peek().kind in ("END", "RPAREN", "OR", "AND"):
                    pos = self.peek().pos if self.peek().kind != "END" else op.pos + 3
                    raise self.error("expected a word, a phrase or '(' after AND", pos)
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, depth: int) -> Node:
        tok = self.peek()
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            if self.peek().kind in ("END", "RPAREN", "OR", "AND"):
                pos = self.peek().pos if self.peek().kind != "END" else tok.pos + len(tok.text)
                raise self.error(f"expected a word, a phrase or '(' after {tok.text}", pos)
            return Not(self.unary(depth))
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        tok = self.take()
        if tok.kind == "LPAREN":
            if depth + 1 > MAX_DEPTH:
                raise self.error(f"parentheses may nest at most {MAX_DEPTH} deep", tok.pos)
            if self.peek().kind == "RPAREN":
                raise self.error("expected something inside the parentheses", self.peek().pos)
            node = self.or_expr(depth + 1)
            if self.peek().kind != "RPAREN":
                raise self.error(f"expected ')' to close the '(' at character {tok.pos + 1}",
                                 self.peek().pos)
            self.take()
            return node
        if tok.kind == "PHRASE":
            tokens = tokenize(tok.text)
            words = tuple(t.norm for t in tokens)
            if not words:
                raise self.error("expected words inside the quotes", tok.pos)
            self.count(tok)
            cased = tuple(t.proper for t in tokens)
            return Phrase(words, cased) if len(words) > 1 else Word(words[0], cased=cased[0])
        if tok.kind == "NEAR":
            return self.near(tok)
        if tok.kind == "WORD":
            return self.word(tok)
        if tok.kind == "RPAREN":
            raise self.error("unexpected ')': there is no '(' to close", tok.pos)
        if tok.kind == "END":
            raise self.error("expected a word, a phrase or '('", tok.pos)
        raise self.error(f"expected a word, a phrase or '(' before {tok.text}", tok.pos)

    def count(self, tok: _Tok) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"a rule may have at most {MAX_TERMS} terms", tok.pos)

    def near(self, tok: _Tok) -> Near:
        distance = int(str(tok.value))
        if not 1 <= distance <= 50:
            raise self.error("NEAR distance must be from 1 to 50 words", tok.pos)
        if self.peek().kind != "LPAREN":
            raise self.error("expected '(' after NEAR/n, e.g. NEAR/5(дрон Шебекино)",
                             self.peek().pos)
        self.take()
        items: list[Word] = []
        while self.peek().kind == "WORD":
            word = self.word(self.take())
            if not isinstance(word, Word):
                raise self.error("NEAR takes words only", self.toks[self.i - 1].pos)
            items.append(word)
        if self.peek().kind != "RPAREN":
            raise self.error("expected a word or ')' inside NEAR(…)", self.peek().pos)
        self.take()
        if len(items) < 2:
            raise self.error("NEAR needs at least two words", tok.pos)
        return Near(distance, tuple(items))

    def word(self, tok: _Tok) -> Node:
        raw = tok.text
        low = raw.lower()
        if low.startswith("channel:"):
            match = _CHANNEL_RE.match(raw[len("channel:"):])
            if not match:
                raise self.error("expected a channel username after channel:, e.g."
                                 " channel:@rybar", tok.pos + len("channel:"))
            return ChannelFilter(match.group(1).lower())
        if low.startswith("lang:"):
            lang = low[len("lang:"):]
            if lang not in LANGS:
                raise self.error("expected lang:ru or lang:uk", tok.pos + len("lang:"))
            return LangFilter(lang)
        if low.startswith("region:"):
            value = raw[len("region:"):]
            if not value and self.peek().kind == "PHRASE":
                value = self.take().text.strip()
            if not value:
                raise self.error('expected a place after region:, e.g. region:belgorod or'
                                 ' region:"Шебекино"', tok.pos + len("region:"))
            self.count(tok)
            return RegionFilter(value)
        mode = "forms"
        body = raw
        if body.startswith("="):
            mode, body = "exact", body[1:]
        if body.endswith("*"):
            if mode == "exact":
                raise self.error("a word cannot be both =exact and a prefix*", tok.pos)
            mode, body = "prefix", body[:-1]
        if "*" in body:
            raise self.error("* may only end a word (a prefix)", tok.pos + raw.index("*"))
        tokens = tokenize(body)
        words = [t.norm for t in tokens]
        if not words:
            raise self.error(f"expected a word, found {raw!r}", tok.pos)
        self.count(tok)
        if len(words) > 1:
            if mode != "forms":
                raise self.error("=exact and prefix* apply to single words", tok.pos)
            # e.g. Ростов/Дон: consecutive words
            return Phrase(tuple(words), tuple(t.proper for t in tokens))
        if mode == "prefix" and sum(ch.isalpha() for ch in words[0]) < MIN_PREFIX:
            raise self.error(f"a prefix needs at least {MIN_PREFIX} letters before *",
                             tok.pos + len(raw) - 1)
        return Word(normalize_word(words[0]), mode, tokens[0].proper)


def parse_rule(text: str) -> Node:
    """Parse one rule line or raise RuleSyntaxError pointing at the problem."""
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(f"the rule is longer than {MAX_LENGTH} characters", MAX_LENGTH,
                              text)
    node = _Parser(text).parse()
    if not positive_leaves(node):
        raise RuleSyntaxError("a rule needs at least one word to look for (it cannot consist"
                              " of NOT terms only)", 0, text)
    return node
