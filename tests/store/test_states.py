"""The state enums of bot/models.py name exactly the values the schema allows."""

from __future__ import annotations

import re
from enum import Enum

import pytest

from bot.commands.args import rule_mode
from bot.models import ChannelSource, ChannelStatus, ChatKind, ChatStatus, RuleMode
from bot.store import Database, Store


async def _allowed(db: Database, table: str, column: str) -> set[str]:
    """The values a CHECK (column IN (...)) of the migrated table allows."""
    row = await db.fetchone("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (table,))
    assert row is not None
    found = re.search(rf"CHECK \({column} IN \(([^)]*)\)\)", row["sql"])
    assert found, f"no CHECK on {table}.{column}"
    return set(re.findall(r"'([^']*)'", found.group(1)))


@pytest.mark.parametrize(("table", "column", "enum"), [
    ("channels", "status", ChannelStatus),
    ("channels", "source", ChannelSource),
    ("chats", "status", ChatStatus),
    ("chats", "kind", ChatKind),
    ("rules", "mode", RuleMode),
])
async def test_enum_values_are_the_schema_values(
    store: Store, db: Database, table: str, column: str, enum: type[Enum]
) -> None:
    assert {m.value for m in enum} == await _allowed(db, table, column)


async def test_rows_come_back_as_enums(store: Store) -> None:
    channel, _ = await store.channels.add(777, "kanal", "Канал", 1, None)
    assert channel.status is ChannelStatus.ACTIVE and channel.source is ChannelSource.LIVE
    await store.channels.set_source(777, ChannelSource.PREVIEW)
    await store.channels.set_status(777, ChannelStatus.ERROR, "gone")
    again = await store.channels.get(777)
    assert again is not None
    assert again.status is ChannelStatus.ERROR and again.source is ChannelSource.PREVIEW
    assert f"[{again.status}]" == "[error]"  # what /channels shows


@pytest.mark.parametrize(("raw", "mode"), [
    ("instant", RuleMode.INSTANT), ("DIGEST", RuleMode.DIGEST), (" both ", RuleMode.BOTH),
    ("never", None), ("", None),
])
def test_rule_mode_parses_the_three_modes(raw: str, mode: RuleMode | None) -> None:
    assert rule_mode(raw) is mode
