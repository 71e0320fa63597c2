"""The bot account: receives commands, replies, and sends outbox messages."""

from __future__ import annotations

import logging
from typing import Any

from telethon import Button, TelegramClient, errors, events
from telethon.extensions import html as tl_html
from telethon.tl import functions, types

from bot.commands import COMMANDS
from bot.guard import CommandRouter, Incoming
from bot.models import ChatKind
from bot.render import split_lines
from bot.services.ports import (
    FloodWait,
    MessageRejected,
    PermanentSendError,
    TransientSendError,
)

log = logging.getLogger(__name__)

# The chat can no longer be written to: dead-letter it and pause its rules.
_PERMANENT = (
    errors.UserIsBlockedError,
    errors.ChatWriteForbiddenError,
    errors.ChannelPrivateError,
    errors.PeerIdInvalidError,
    errors.InputUserDeactivatedError,
    errors.UserDeactivatedError,
    errors.ChatIdInvalidError,
    errors.UserKickedError,
    errors.ChatRestrictedError,
    errors.UserBannedInChannelError,
)


class BotGateway:
    """Wraps the bot client; implements ``MessageSender`` for the dispatcher."""

    def __init__(self, client: TelegramClient, router: CommandRouter) -> None:
        self.client = client
        self._router = router

    async def start(self, token: str) -> None:
        """Sign in with the token (no prompt), register commands, start handling them."""
        await self.client.start(bot_token=token)
        me = await self.client.get_me()
        self._router.bot_username = me.username
        await self.client(functions.bots.SetBotCommandsRequest(
            scope=types.BotCommandScopeDefault(), lang_code="",
            commands=[types.BotCommand(c.name, c.description) for c in COMMANDS],
        ))
        self.client.add_event_handler(self.on_command, events.NewMessage(incoming=True,
                                                                         pattern=r"^/"))
        self.client.add_event_handler(self.on_button, events.CallbackQuery())

    async def _incoming(self, event: Any, text: str) -> Incoming:
        sender_id = event.sender_id
        if sender_id is not None and sender_id < 0:
            sender_id = None  # a channel or anonymous group admin speaking, not a person
        if event.is_private:
            kind, title = ChatKind.PRIVATE, None
        else:
            kind = ChatKind.GROUP if event.is_group else ChatKind.CHANNEL
            chat = await event.get_chat()
            title = getattr(chat, "title", None)
        return Incoming(text, sender_id, event.chat_id, kind, title)

    async def on_command(self, event: Any) -> None:
        """Turn the event into plain data, let the router decide, send its reply."""
        reply = await self._router.handle(await self._incoming(event, event.raw_text or ""))
        if reply is None:
            return
        text, buttons = (reply, None) if isinstance(reply, str) else (
            reply.html, [[Button.inline(label, data.encode())] for label, data in reply.buttons])
        try:
            *first, last = split_lines(text)  # /channels of 500 channels is long
            for part in first:
                await event.reply(part, parse_mode="html", link_preview=False)
            await event.reply(last, parse_mode="html", link_preview=False, buttons=buttons)
        except errors.FloodWaitError as exc:
            log.warning("reply to chat %d dropped: flood wait %ds", event.chat_id, exc.seconds)
        except errors.RPCError as exc:
            log.warning("reply to chat %d failed: %s", event.chat_id, exc)

    async def on_button(self, event: Any) -> None:
        """An inline button was pressed: answer it and show the outcome in the message."""
        incoming = await self._incoming(event, "")
        data = event.data.decode("utf-8", "replace") if event.data else ""
        answer, new_text = await self._router.handle_callback(incoming.sender_id, incoming, data)
        try:
            await event.answer(answer)
            if new_text is not None:
                await event.edit(new_text, parse_mode="html", link_preview=False, buttons=None)
        except errors.RPCError as exc:
            log.warning("answering a button in chat %d failed: %s", event.chat_id, exc)

    async def send_html(self, chat_id: int, html: str, random_id: int) -> None:
        """Send one message with a persisted random id; map Telegram errors to our own."""
        text, entities = tl_html.parse(html)
        try:
            peer = await self.client.get_input_entity(chat_id)
        except ValueError as exc:
            raise PermanentSendError(f"chat {chat_id} is unknown to the bot") from exc
        request = functions.messages.SendMessageRequest(
            peer=peer, message=text, entities=entities, random_id=random_id, no_webpage=True
        )
        try:
            await self.client(request)
        except errors.RandomIdDuplicateError:
            # Sent before a crash but not marked sent: Telegram recognised the random id.
            log.info("message to chat %d was already delivered (random id seen)", chat_id)
        except errors.FloodWaitError as exc:
            raise FloodWait(exc.seconds) from exc
        except _PERMANENT as exc:
            raise PermanentSendError(type(exc).__name__) from exc
        except errors.BadRequestError as exc:
            raise MessageRejected(str(exc)) from exc
        except (errors.RPCError, ConnectionError, OSError, TimeoutError) as exc:
            raise TransientSendError(str(exc)) from exc
