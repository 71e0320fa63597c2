"""Matching posts against rules (pure: imports nothing from Telegram or the store)."""

from bot.match.index import CompiledRule, MatchHit, RuleIndex
from bot.match.lemmas import Lemmatizer
from bot.match.rules import RuleQuery, RuleSyntaxError, parse_rule

__all__ = [
    "CompiledRule",
    "Lemmatizer",
    "MatchHit",
    "RuleIndex",
    "RuleQuery",
    "RuleSyntaxError",
    "parse_rule",
]
