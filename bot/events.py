"""What an alert says, decided at ingest and rendered when it is sent.

Ingest decides *what* (the post, the channel, the rules that fired, the words and places, why
the alert is unusual) and stores it with the outbox row as an ``AlertEvent``; how it reads
(Telegram HTML, the webhook's JSON) is decided once, at send time, by :mod:`bot.render`, with
what is known only then: how long the alert waited, whether the post is gone, "also in", the
chat's time zone and translation. Nothing here knows about HTML, Telethon or SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.models import Buttons

Span = tuple[int, int]


@dataclass(frozen=True)
class AlertChannel:
    """The channel that posted, as it was named when the alert was made."""

    id: int
    username: str | None
    title: str


@dataclass(frozen=True)
class AlertPost:
    """The post an alert is about, as it read when it matched."""

    message_id: int
    date: dt.datetime
    text: str
    permalink: str
    views: int | None = None
    media: str | None = None  # photo, video, … (what a post without text is)
    forwarded_from: str | None = None  # the forward origin, as Post.fwd_from
    edited: bool = False  # the post had been edited (it has an edit date)
    grouped_id: int | None = None  # an album: one alert for all of its posts


@dataclass(frozen=True)
class FiredRule:
    """A rule of the chat that matched the post."""

    id: int
    number: int
    expression: str


@dataclass(frozen=True)
class AlsoIn:
    """A repeat of the story in another channel, named in the alert's "also in" line."""

    name: str  # @username, or the channel's title when it has none
    url: str  # the repeat's permalink


@dataclass(frozen=True)
class AlertEvent:
    """One chat's alert for one post: every rule of the chat that fired, and why it is unusual.

    ``late_by`` is set for a post found when catching up (how long after it was posted);
    ``edited_match`` for an alert made by an edit whose new text matches; ``image_text`` for
    an alert found in the text OCR read in the post's picture (``spans`` point into it).
    """

    chat_id: int
    key: str  # one alert per chat per post (an album counts as one post): the dedup key
    found_at: dt.datetime  # when chanwatch matched it (the webhook event's sent_at)
    channel: AlertChannel
    post: AlertPost
    rules: tuple[FiredRule, ...]
    spans: tuple[Span, ...] = ()  # the characters of post.text that fired
    places: tuple[str, ...] = ()  # places recognised in the post, first mention first
    late_by: dt.timedelta | None = None
    edited_match: bool = False
    image_text: str = ""

    @property
    def matched_text(self) -> str:
        """The text the spans point into: the post's, or its picture's."""
        return self.image_text or self.post.text

    @property
    def matched(self) -> list[str]:
        """The words that fired, in text order, each once."""
        text = self.matched_text
        return list(dict.fromkeys(text[a:b] for a, b in sorted(self.spans)))

    @property
    def also_in(self) -> AlsoIn:
        """How this post is named in an earlier alert's "also in" line."""
        name = f"@{self.channel.username}" if self.channel.username else self.channel.title
        return AlsoIn(name, self.post.permalink)


@dataclass(frozen=True)
class StoredAlert:
    """An alert queued by a version before migration 0006: its HTML was made at ingest.

    Sent as it is (what is known only at send time is added at its end).
    """

    html: str
    buttons: Buttons = ()
    summary: str = ""  # its one-line HTML for a quiet-hours fold


Alert = AlertEvent | StoredAlert
AlsoEntry = AlsoIn | str  # str: an "also in" label an older version stored as HTML
