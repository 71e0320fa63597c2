"""Alert rules of subscriber chats, and the compiled index every new post is matched against."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from bot.match import CompiledRule, Lemmatizer, MatchHit, Node, RuleIndex, parse_rule
from bot.models import Post, Rule, RuleMode
from bot.regions.places import PlaceMatcher
from bot.store import Store

log = logging.getLogger(__name__)
MAX_RULES_PER_CHAT = 100
TEST_SCAN = 2000  # /test looks at this many of the newest stored posts
TEST_SHOW = 5


class RuleLimitError(ValueError):
    """A chat already holds as many rules as it may."""


class RulesService:
    """Stores rules and keeps the compiled index in step with them (no restart needed)."""

    def __init__(self, store: Store, lemmatizer: Lemmatizer,
                 max_rules: int = MAX_RULES_PER_CHAT, places: PlaceMatcher | None = None) -> None:
        self._store = store
        self._lemmatizer = lemmatizer
        self._max_rules = max_rules
        self.places = places
        self.index = RuleIndex.build(lemmatizer, [])
        self.rules_by_id: dict[int, Rule] = {}

    @property
    def lemmatizer(self) -> Lemmatizer:
        """The word-form dictionaries rules are compiled with."""
        return self._lemmatizer

    async def rebuild(self) -> None:
        """Recompile the index from the database (at start and after every change)."""
        rules = await self._store.rules.alerting()
        index = RuleIndex.build(self._lemmatizer, [], self.places)
        for rule in rules:
            try:
                index.add(CompiledRule(rule.id, rule.chat_id, parse_rule(rule.expression)))
            except ValueError:
                # Stored by an older parser, or its place left the gazetteer: skip it only.
                log.warning("rule %d no longer compiles; skipped: %r", rule.id, rule.expression)
        self.index = index
        self.rules_by_id = {r.id: r for r in rules}

    async def add(self, chat_id: int, expression: str, by: int) -> tuple[Rule, Node]:
        """Parse and store a rule; raise RuleSyntaxError or RuleLimitError."""
        query = parse_rule(expression.strip())
        # compile it alone first: a region: that names no single place is refused here
        RuleIndex.build(self._lemmatizer, [CompiledRule(0, chat_id, query)], self.places)
        if await self._store.rules.count(chat_id) >= self._max_rules:
            raise RuleLimitError(
                f"This chat already has {self._max_rules} rules; /delete one first."
            )
        rule = await self._store.rules.add(chat_id, expression.strip(), by)
        await self.rebuild()
        return rule, query

    async def test(
        self, expression: str, scan: int = TEST_SCAN, show: int = TEST_SHOW
    ) -> tuple[Node, list[tuple[Post, str, MatchHit]], int]:
        """Which of the last ``scan`` stored posts a rule would have matched (newest first)."""
        query = parse_rule(expression)
        index = RuleIndex.build(self._lemmatizer, [CompiledRule(0, 0, query)], self.places)
        found: list[tuple[Post, str, MatchHit]] = []
        posts = await self._store.posts.recent(scan)
        for post, title in posts:
            hits = index.match(post.text, post.channel_username)
            if hits:
                found.append((post, title, hits[0]))
        return query, found[:show], len(posts)

    async def list(self, chat_id: int) -> list[Rule]:
        """A chat's rules in number order."""
        return await self._store.rules.of_chat(chat_id)

    async def delete(self, chat_id: int, number: int) -> Rule | None:
        """Delete a rule by its number in this chat."""
        rule = await self._store.rules.delete(chat_id, number)
        if rule is not None:
            await self.rebuild()
        return rule

    async def set_mode(self, chat_id: int, number: int, mode: RuleMode) -> Rule | None:
        """Make rule ``number`` instant, digest-only or both (read at alert time: no rebuild)."""
        return await self._store.rules.set_mode(chat_id, number, mode)

    async def mute(self, chat_id: int, number: int, until: dt.datetime | None) -> Rule | None:
        """Silence rule ``number``'s instant alerts until ``until`` (None: unmute)."""
        return await self._store.rules.set_muted(chat_id, number, until)

    async def mute_ids(self, chat_id: int, rule_ids: Sequence[int],
                       until: dt.datetime) -> Sequence[Rule]:
        """Mute rules by id (the buttons under an alert); only this chat's rules."""
        return await self._store.rules.set_muted_ids(chat_id, rule_ids, until)

    async def set_notify_deleted(self, chat_id: int, number: int, on: bool) -> Rule | None:
        """Tell (or stop telling) the chat when a post rule ``number`` alerted on is deleted."""
        return await self._store.rules.set_notify_deleted(chat_id, number, on)
