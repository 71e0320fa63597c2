"""Text normalisation and tokenisation: pure functions, spans into the original text."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# Word characters joined by inner hyphens or apostrophes stay one token:
# Ростов-на-Дону, Куп'янськ, 2024-го.
_TOKEN_RE = re.compile(r"\w+(?:['’ʼ`‘-]\w+)*")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "‘": "'", "ʹ": "'"})
# Latin letters that look like Cyrillic ones (after casefolding). A word that mixes scripts is
# almost always a Cyrillic word typed with a few Latin keys (or disguised on purpose).
_LOOKALIKES = str.maketrans({
    "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "k": "к", "m": "м",
    "o": "о", "p": "р", "t": "т", "x": "х", "y": "у",
})
_ODD_APOSTROPHE_RE = re.compile("[’ʼ`‘ʹ]")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[a-z]")
_UK_ONLY = set("іїєґ")
_RU_ONLY = set("ыэъё")


class Token(NamedTuple):
    """A word of a text: its normalised form and where it stands in the original.

    A NamedTuple, not a dataclass: posts have ~70 tokens each and this is the hot path.
    """

    norm: str
    start: int
    end: int
    proper: bool = False  # starts with a capital letter (and is not all capitals)


def repair_mixed_script(word: str) -> str:
    """Turn Latin look-alike letters inside a Cyrillic word into Cyrillic ones.

    Each part of a hyphenated word is its own word: "FPV-дронов" stays Latin before the hyphen.
    """
    if "-" in word:
        return "-".join(repair_mixed_script(part) for part in word.split("-"))
    if _CYRILLIC_RE.search(word) and _LATIN_RE.search(word):
        repaired = word.translate(_LOOKALIKES)
        # "і" is Ukrainian; in a word without other Ukrainian letters an "i" stands for "и"
        # only in transliteration, so keep "і": pymorphy's Russian dictionary ignores it.
        return repaired
    return word


def normalize_word(word: str) -> str:
    """NFKC, casefold, ё→е, one apostrophe, mixed scripts repaired: the comparison form."""
    text = unicodedata.normalize("NFKC", word).casefold()
    text = text.replace("ё", "е").translate(_APOSTROPHES)
    return repair_mixed_script(text)


def tokenize(text: str) -> list[Token]:
    """Split text into word tokens with character spans into ``text``."""
    folded = text.casefold()
    if len(folded) != len(text):
        return _tokenize_slow(text)
    # Fast path (almost every post): casefolding kept every offset, so the whole text is
    # normalised once and tokens are cut from it. The hot path of every post: each step is
    # skipped when it has nothing to do (str.translate alone cost a fifth of it), and Tokens
    # are built as plain tuples. A text that is not NFKC (an ellipsis, №, a no-break space:
    # one news post in six) stays on this path; only its tokens that NFKC would change are
    # normalised one by one, as the slow path normalises every token.
    whole_nfkc = unicodedata.is_normalized("NFKC", text)
    if "ё" in folded:
        folded = folded.replace("ё", "е")
    if _ODD_APOSTROPHE_RE.search(folded):
        folded = folded.translate(_APOSTROPHES)
    mixed = bool(_LATIN_RE.search(folded) and _CYRILLIC_RE.search(folded))
    out: list[Token] = []
    append, new, is_normalized = out.append, tuple.__new__, unicodedata.is_normalized
    for m in _TOKEN_RE.finditer(folded):
        start, end = m.span()
        norm = folded[start:end]
        if "_" in norm and not norm.strip("_"):
            continue
        raw = text[start:end]
        proper = raw[0].isupper() and not raw.isupper()
        if not whole_nfkc and not is_normalized("NFKC", raw):
            norm = normalize_word(raw)
        elif mixed:
            norm = repair_mixed_script(norm)
        append(new(Token, (norm, start, end, proper)))
    return out


def _tokenize_slow(text: str) -> list[Token]:
    out = []
    for m in _TOKEN_RE.finditer(text):
        raw = m.group()
        if not raw.strip("_"):
            continue
        proper = raw[0].isupper() and not raw.isupper()
        out.append(Token(normalize_word(raw), m.start(), m.end(), proper))
    return out


def detect_lang(text: str) -> str | None:
    """ru or uk for Cyrillic text (by letters only one of them has), en for Latin, else None."""
    low = text.casefold()
    uk = sum(ch in _UK_ONLY for ch in low)
    ru = sum(ch in _RU_ONLY for ch in low)
    if uk or ru:
        return "uk" if uk > ru else "ru"
    if _CYRILLIC_RE.search(low):
        return "ru"
    if _LATIN_RE.search(low):
        return "en"
    return None
