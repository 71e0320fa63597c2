"""Archive fixtures: a store filled with the bundled real posts through the real ingest path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from bot.archive.search import ArchiveSearch
from bot.match import Lemmatizer
from bot.models import ChatKind, Post
from bot.regions.places import PlaceMatcher
from bot.sandbox.demo.stage import load_sample
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Store
from tests.support.fakes import FakeClock

TITLES = {"rian_ru": "РИА Новости", "bbcrussian": "BBC News Русская служба", "mash": "Mash"}
CHANNEL_IDS = {"rian_ru": 1001, "bbcrussian": 1002, "mash": 1003}


@dataclass
class Filled:
    """A store with the sample posts, the services that filled it, and the posts by key."""

    store: Store
    ingest: IngestService
    rules: RulesService
    search: ArchiveSearch
    posts: list[Post]


@pytest.fixture(scope="session")
def places(lemmatizer: Lemmatizer) -> PlaceMatcher:
    return PlaceMatcher.shared(lemmatizer)


def sample_posts(limit: int | None = None) -> list[Post]:
    """The bundled real posts as Posts of three channels (ids by channel name)."""
    out = []
    for row in load_sample(limit):
        name = str(row["channel"])
        channel_id = CHANNEL_IDS[name]
        out.append(Post(channel_id, int(row["message_id"]),
                        dt.datetime.fromisoformat(str(row["date"])), str(row["text"]),
                        f"https://t.me/{name}/{row['message_id']}", channel_username=name))
    return out


@pytest_asyncio.fixture
async def filled(store: Store, clock: FakeClock, lemmatizer: Lemmatizer,
                 places: PlaceMatcher) -> Filled:
    rules = RulesService(store, lemmatizer, places=places)
    ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                           AdminNotifier(store, frozenset()))
    await store.chats.upsert(1, ChatKind.PRIVATE, None)
    posts = sample_posts()
    for name, channel_id in sorted(CHANNEL_IDS.items()):
        await store.channels.add(channel_id, name, TITLES[name], None, 1)
    for post in posts:
        await ingest.ingest(post)
    return Filled(store, ingest, rules, ArchiveSearch(store, lemmatizer, places), posts)
