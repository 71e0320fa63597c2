"""Command policy in one place: who may run what, where, and the error boundary."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.commands import (
    BUTTONS,
    COMMANDS_BY_NAME,
    READ_ONLY_BUTTONS,
    CommandContext,
    Reply,
    Services,
)
from bot.commands.replies import BUTTON_EXPIRED
from bot.models import ChatKind, Role
from bot.store import StoreBusy

log = logging.getLogger(__name__)
_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+(.*))?$", re.S)
REFUSAL_INTERVAL = dt.timedelta(hours=1)

GROUP_ADMINS_ONLY = ("Only administrators of this group (who may use chanwatch) can change its"
                     " rules and settings.")
REFUSAL = ("Sorry, this chanwatch instance is private. Ask its operator for access"
           " and give them your user id: <code>{user_id}</code>")


@dataclass(frozen=True)
class Incoming:
    """A message addressed to the bot, as plain data."""

    text: str
    sender_id: int | None  # None for anonymous group admins and channel signatures
    chat_id: int
    chat_kind: ChatKind
    chat_title: str | None
    reply_to: int | None = None  # the id of the message this one replies to


class CommandRouter:
    """Parses a command, applies policy, calls the handler and returns the reply (or None)."""

    def __init__(self, services: Services, clock: Clock, bot_username: str | None = None) -> None:
        self._svc = services
        self._clock = clock
        self.bot_username = bot_username
        self._refused: dict[int, dt.datetime] = {}
        # asks Telegram whether a person administers a group (set by the bot gateway)
        self.is_group_admin: Callable[[int, int], Awaitable[bool]] | None = None

    async def _may_change(self, msg: Incoming) -> bool:
        """In groups, only the group's administrators may change its rules and settings."""
        if msg.chat_kind is ChatKind.PRIVATE:
            return True
        if msg.sender_id is None or self.is_group_admin is None:
            return False
        return await self.is_group_admin(msg.chat_id, msg.sender_id)

    async def handle_callback(self, sender_id: int | None, msg: Incoming,
                              data: str) -> tuple[str, str | Reply | None]:
        """A pressed inline button: (short answer, new text for the message, a Reply, or None)."""
        role = await self._svc.access.role(sender_id)
        if role is Role.STRANGER or sender_id is None:
            return "Sorry, this chanwatch instance is private.", None
        ctx = CommandContext(sender_id, msg.chat_id, msg.chat_kind, msg.chat_title, "", role)
        kind = data.partition(":")[0]
        button = BUTTONS.get(kind)
        if button is None:
            return BUTTON_EXPIRED, None
        if kind not in READ_ONLY_BUTTONS and not await self._may_change(msg):
            return "Only this group's administrators can do that.", None
        try:
            await self._svc.chats.register(msg.chat_id, msg.chat_kind, msg.chat_title)
            return await button(ctx, self._svc, data)
        except StoreBusy:
            return "The database is busy; press again in a moment.", None

    async def handle(self, msg: Incoming) -> str | Reply | None:
        """Return the HTML reply to send, or None to stay silent."""
        match = _COMMAND_RE.match(msg.text.strip())
        if not match:
            return None
        name, target, args = match.group(1).lower(), match.group(2), (match.group(3) or "")
        if target and self.bot_username and target.lower() != self.bot_username.lower():
            return None  # "/cmd@otherbot" in a group is not for us
        in_group = msg.chat_kind is not ChatKind.PRIVATE
        command = COMMANDS_BY_NAME.get(name)
        if command is None and in_group and not target:
            return None  # "/cmd" in a group may be for another bot
        role = await self._svc.access.role(msg.sender_id)
        if role is Role.STRANGER or msg.sender_id is None:
            known = in_group and await self._svc.chats.find(msg.chat_id) is not None
            if not (known and command is not None and not command.changes
                    and command.access is not Role.ADMIN and msg.sender_id is not None):
                return self._refusal(msg.sender_id)
            role = Role.STRANGER  # a member of a subscribed group may read, not change
        if command is None:
            return f"Unknown command /{name}. /help lists what you can use."
        if command.access is Role.ADMIN and role is not Role.ADMIN:
            return f"/{name} is for admins only."
        if command.private_only and msg.chat_kind is not ChatKind.PRIVATE:
            return f"/{name} works only in a private chat with me."
        if command.changes and in_group and not await self._may_change(msg):
            return GROUP_ADMINS_ONLY
        assert msg.sender_id is not None
        ctx = CommandContext(msg.sender_id, msg.chat_id, msg.chat_kind, msg.chat_title,
                             args.strip(), role, reply_to=msg.reply_to)
        try:
            await self._svc.chats.register(msg.chat_id, msg.chat_kind, msg.chat_title)
            return await command.handler(ctx, self._svc)
        except StoreBusy:
            log.warning("/%s from %d: database busy", name, msg.sender_id)
            return "⏳ The database is busy right now; please try again in a moment."
        except Exception:
            log.exception("/%s from %d in chat %d failed", name, msg.sender_id, msg.chat_id)
            return "⚠️ Something went wrong; the error was logged for the operator."

    def _refusal(self, user_id: int | None) -> str | None:
        # One polite refusal per person per hour; silence after that, so a stranger
        # cannot make the bot spend its send budget.
        if user_id is None:
            return "Sorry, I cannot tell who sent this (anonymous admin?), so I cannot act on it."
        now = self._clock.now()
        last = self._refused.get(user_id)
        if last is not None and now - last < REFUSAL_INTERVAL:
            return None
        self._refused[user_id] = now
        return REFUSAL.format(user_id=user_id)
