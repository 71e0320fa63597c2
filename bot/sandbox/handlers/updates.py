"""Catching up on updates: updates.getState, getDifference and getChannelDifference."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account, now
from bot.sandbox.handlers.common import with_first
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World


def _split(entries: list[TLObject]) -> tuple[list[TLObject], list[TLObject]]:
    """Split logged updates into getDifference's new_messages and other_updates."""
    new_types = (tl.UpdateNewMessage, tl.UpdateNewChannelMessage)
    return ([u.message for u in entries if isinstance(u, new_types)],
            [u for u in entries if not isinstance(u, new_types)])


@serves(fn.updates.GetStateRequest)
def _get_state(world: World, acc: Account, req: Any) -> Result:
    return world.state(acc)


@serves(fn.updates.GetDifferenceRequest)
def _get_difference(world: World, acc: Account, req: Any) -> Result:
    new, other = _split([u for pts, u in acc.log if pts > req.pts])
    if not new and not other:
        return tl.updates.DifferenceEmpty(date=now(), seq=0)
    users, chats = world.entities(new + [u.message for u in other if hasattr(u, "message")])
    return tl.updates.Difference(new_messages=new, new_encrypted_messages=[], other_updates=other,
                                 chats=chats, users=users, state=world.state(acc))


@serves(fn.updates.GetChannelDifferenceRequest)
def _get_channel_difference(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel, read=True)
    later = [(pts, u) for pts, u in ch.log if pts > req.pts]
    if not later:
        return tl.updates.ChannelDifferenceEmpty(pts=ch.pts, final=True)
    page = later[:max(req.limit, 1)]  # Telethon asks users for 100 at a time, then continues
    new, other = _split([u for _, u in page])
    users, chats = world.entities(new)
    return tl.updates.ChannelDifference(
        pts=page[-1][0], final=len(page) == len(later), new_messages=new, other_updates=other,
        chats=with_first(chats, ch.entity_for(acc)), users=users)
