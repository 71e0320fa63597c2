"""Matching posts against rules (pure: imports nothing from Telegram or the store)."""

from bot.match.index import CompiledRule, MatchHit, RuleIndex
from bot.match.lemmas import Lemmatizer
from bot.match.query import Node, RuleSyntaxError, parse_rule

__all__ = [
    "CompiledRule",
    "Lemmatizer",
    "MatchHit",
    "Node",
    "RuleIndex",
    "RuleSyntaxError",
    "parse_rule",
]
