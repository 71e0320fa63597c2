"""What several handler modules read: an account's private boxes, chats listed first."""

from __future__ import annotations

from typing import Any

from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account


def private_messages(acc: Account, peer: TLObject) -> dict[int, Any]:
    """Current versions (edits applied) of the account's messages with `peer`."""
    current: dict[int, Any] = {}
    for _, update in acc.log:
        msg = getattr(update, "message", None)
        if msg is not None and msg.peer_id == peer:
            current[msg.id] = msg
    return current


def with_first(chats: list[TLObject], first: TLObject) -> list[TLObject]:
    """`chats` with `first` at their head (once)."""
    return [first, *(c for c in chats if c.id != first.id)]
