"""The bot account: receives commands, replies, and sends outbox messages."""

from __future__ import annotations

import dataclasses
import io
import logging
from collections import OrderedDict
from typing import Any

from telethon import Button, TelegramClient, errors, events
from telethon.tl import functions, types

from bot.commands import COMMANDS, Reply
from bot.guard import CommandRouter, Incoming
from bot.models import Buttons, ChatKind
from bot.render import split_lines
from bot.services.ports import (
    FloodWait,
    MessageRejected,
    Outgoing,
    PermanentSendError,
    TransientSendError,
    part_random_id,
)
from bot.telegram.split import split_html

log = logging.getLogger(__name__)
CAPTION_LIMIT = 1024  # characters of a media caption (Telegram's limit for ordinary accounts)
PHOTOS_KEPT = 256  # photos uploaded once and sent again by reference (an alert to many chats)

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
    errors.ChatAdminRequiredError,
    errors.ChatSendPlainForbiddenError,
    errors.ChatGuestSendForbiddenError,
)


class BotGateway:
    """Wraps the bot client; implements ``MessageSender`` for the dispatcher."""

    def __init__(self, client: TelegramClient, router: CommandRouter) -> None:
        self.client = client
        self._router = router
        router.is_group_admin = self.is_group_admin
        # what Telegram made of photos this account sent, by their bytes' SHA-256: an alert
        # that goes to a thousand chats uploads its photo once
        self._photos: OrderedDict[str, types.InputPhoto] = OrderedDict()
        self.uploads = 0  # photos uploaded (the rest went by reference)

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
        return Incoming(text, sender_id, event.chat_id, kind, title,
                        # a button press (CallbackQuery) carries no message of its own
                        reply_to=getattr(getattr(event, "message", None), "reply_to_msg_id",
                                         None))

    async def on_command(self, event: Any) -> None:
        """Turn the event into plain data, let the router decide, send its reply."""
        reply = await self._router.handle(await self._incoming(event, event.raw_text or ""))
        if reply is None:
            return
        await self._reply(event, reply)

    async def _reply(self, event: Any, reply: str | Reply, *, reply_to: bool = True) -> None:
        """Send a command's (or a button's) reply: text in parts, buttons, a file."""
        text, buttons = (reply, None) if isinstance(reply, str) else (
            reply.html, [[Button.inline(label, data.encode())] for label, data in reply.buttons]
            or None)
        target = event.message.id if reply_to and getattr(event, "message", None) else None
        try:
            if isinstance(reply, Reply) and reply.file is not None:
                await self._send_file(event.chat_id, reply, buttons, target)
                return
            *first, last = split_lines(text)  # /channels of 500 channels is long
            for part in first:
                await self.client.send_message(event.chat_id, part, parse_mode="html",
                                               link_preview=False, reply_to=target)
            await self.client.send_message(event.chat_id, last, parse_mode="html",
                                           link_preview=False, buttons=buttons,
                                           reply_to=target)
        except errors.FloodWaitError as exc:
            log.warning("reply to chat %d dropped: flood wait %ds", event.chat_id, exc.seconds)
        except errors.RPCError as exc:
            log.warning("reply to chat %d failed: %s", event.chat_id, exc)

    async def _send_file(self, chat_id: int, reply: Reply, buttons: Any,
                         reply_to: int | None) -> None:
        """A photo or a document, with the reply's HTML as caption when it fits."""
        assert reply.file is not None
        data = io.BytesIO(reply.file)
        data.name = reply.file_name or ("chart.png" if reply.photo else "file.bin")
        caption = reply.html
        if len(caption) > CAPTION_LIMIT:  # too long for a caption: the text goes first
            for part in split_lines(caption):
                await self.client.send_message(chat_id, part, parse_mode="html",
                                               link_preview=False, reply_to=reply_to)
            caption = ""
        await self.client.send_file(chat_id, data, caption=caption, parse_mode="html",
                                    force_document=not reply.photo, buttons=buttons,
                                    reply_to=reply_to)

    async def on_button(self, event: Any) -> None:
        """An inline button was pressed: answer it and show the outcome in the message."""
        incoming = await self._incoming(event, "")
        data = event.data.decode("utf-8", "replace") if event.data else ""
        answer, outcome = await self._router.handle_callback(incoming.sender_id, incoming, data)
        try:
            await event.answer(answer)
            if isinstance(outcome, Reply) and outcome.new_message:
                await event.edit(buttons=None)  # pressed once: the next page is a new message
                await self._reply(event, outcome, reply_to=False)
            elif isinstance(outcome, Reply):
                buttons = [[Button.inline(label, d.encode())] for label, d in outcome.buttons]
                await event.edit(outcome.html, parse_mode="html", link_preview=False,
                                 buttons=buttons or None)
            elif outcome is not None:
                await event.edit(outcome, parse_mode="html", link_preview=False, buttons=None)
        except errors.RPCError as exc:
            log.warning("answering a button in chat %d failed: %s", event.chat_id, exc)

    async def deliver(self, message: Outgoing) -> int | None:
        """Send (or edit) one outbox message; map Telegram errors to our own.

        Long text goes out in parts cut by ``split_html`` (never inside a tag, an entity or a
        surrogate pair); part *i* carries ``part_random_id(random_id, i)``, so after a crash
        the parts already delivered are recognised by Telegram and only the rest is sent.
        Buttons go under the last part; a photo (digest chart) follows the text. A
        ``captioned`` message is the photo first, with as much of the text as fits a caption,
        then the rest (``_send_captioned``).
        """
        try:
            peer = await self.client.get_input_entity(message.chat_id)
        except ValueError as exc:
            raise PermanentSendError(f"chat {message.chat_id} is unknown to the bot") from exc
        parts = (split_html(message.html, first_limit=CAPTION_LIMIT) if message.captioned
                 else split_html(message.html))
        markup = _markup(self.client, message.buttons)
        try:
            if message.captioned and message.photo is not None \
                    and message.edit_message_id is None:
                return await self._send_captioned(peer, message, parts, markup)
            if message.captioned and message.edit_message_id is not None and len(parts) > 1:
                # the photo's caption cannot hold the new text: say what changed instead
                parts = split_html(message.fallback_html)
                message = dataclasses.replace(message, edit_message_id=None, buttons=())
                markup = None
            if message.edit_message_id is not None:
                text, entities = parts[-1]
                try:
                    await self.client(functions.messages.EditMessageRequest(
                        peer=peer, id=message.edit_message_id, message=text, entities=entities,
                        no_webpage=True, reply_markup=markup))
                except errors.MessageNotModifiedError:
                    pass
                return message.edit_message_id
            last_id: int | None = None
            for index, (text, entities) in enumerate(parts):
                request = functions.messages.SendMessageRequest(
                    peer=peer, message=text, entities=entities, no_webpage=True,
                    random_id=part_random_id(message.random_id, index),
                    reply_markup=markup if index == len(parts) - 1 else None)
                last_id = _sent_id(await self._once(request, message.chat_id)) or last_id
            if message.photo is not None:
                uploaded = await self.client.upload_file(message.photo, file_name="chart.png")
                request = functions.messages.SendMediaRequest(
                    peer=peer, media=types.InputMediaUploadedPhoto(file=uploaded), message="",
                    random_id=part_random_id(message.random_id, len(parts)))
                await self._once(request, message.chat_id)
            return last_id
        except errors.FloodWaitError as exc:
            # Telethon remembers a flood wait per request *type* and would refuse every
            # sendMessage to every chat until it ends; the dispatcher pauses only this chat.
            self.client._flood_waited_requests.clear()
            raise FloodWait(exc.seconds) from exc
        except _PERMANENT as exc:
            raise PermanentSendError(type(exc).__name__) from exc
        except errors.BadRequestError as exc:
            raise MessageRejected(str(exc)) from exc
        except (errors.RPCError, ConnectionError, OSError, TimeoutError) as exc:
            raise TransientSendError(str(exc)) from exc

    async def _send_captioned(self, peer: Any, message: Outgoing,
                              parts: list[tuple[str, list[Any]]], markup: Any) -> int | None:
        """The photo with the first part as its caption, then the other parts; the photo's
        message id. The photo goes by reference when this account sent it before (and is
        uploaded again if Telegram no longer takes the reference)."""
        assert message.photo is not None
        caption, entities = parts[0]
        key = message.photo_key
        known = self._photos.get(key) if key else None
        media: Any = (types.InputMediaPhoto(id=known) if known is not None else None)
        while True:
            if media is None:
                self.uploads += 1
                uploaded = await self.client.upload_file(message.photo, file_name="photo.jpg")
                media = types.InputMediaUploadedPhoto(file=uploaded)
            request = functions.messages.SendMediaRequest(
                peer=peer, media=media, message=caption, entities=entities,
                random_id=message.random_id,
                reply_markup=markup if len(parts) == 1 else None)
            try:
                result = await self._once(request, message.chat_id)
                break
            except (errors.FileReferenceExpiredError, errors.MediaEmptyError,
                    errors.FileReferenceInvalidError):
                if known is None:
                    raise
                self._photos.pop(key or "", None)
                known, media = None, None  # upload it again
        if key:
            self._remember_photo(key, result)
        for index, (text, ents) in enumerate(parts[1:], start=1):
            request = functions.messages.SendMessageRequest(
                peer=peer, message=text, entities=ents, no_webpage=True,
                random_id=part_random_id(message.random_id, index),
                reply_markup=markup if index == len(parts) - 1 else None)
            await self._once(request, message.chat_id)
        return _sent_id(result)  # the photo's: an "also in" edit changes its caption

    def _remember_photo(self, key: str, result: Any) -> None:
        for update in getattr(result, "updates", None) or []:
            msg = getattr(update, "message", None)
            photo = getattr(getattr(msg, "media", None), "photo", None)
            if isinstance(photo, types.Photo):
                self._photos[key] = types.InputPhoto(photo.id, photo.access_hash,
                                                     photo.file_reference)
                self._photos.move_to_end(key)
                while len(self._photos) > PHOTOS_KEPT:
                    self._photos.popitem(last=False)
                return

    async def _once(self, request: Any, chat_id: int) -> Any:
        try:
            return await self.client(request)
        except errors.RandomIdDuplicateError:
            # Sent before a crash but not marked sent: Telegram recognised the random id.
            log.info("message to chat %d was already delivered (random id seen)", chat_id)
            return None

    async def is_group_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether Telegram says this person administers the group (checked each time)."""
        try:
            peer = await self.client.get_input_entity(chat_id)
            user = await self.client.get_input_entity(user_id)
            if isinstance(peer, types.InputPeerChannel):
                result = await self.client(functions.channels.GetParticipantRequest(peer, user))
                return isinstance(result.participant, types.ChannelParticipantAdmin
                                  | types.ChannelParticipantCreator)
            if isinstance(peer, types.InputPeerChat):
                full = await self.client(functions.messages.GetFullChatRequest(peer.chat_id))
                participants = getattr(full.full_chat, "participants", None)
                for p in getattr(participants, "participants", None) or []:
                    if p.user_id == user_id:
                        return isinstance(p, types.ChatParticipantAdmin
                                          | types.ChatParticipantCreator)
        except (errors.RPCError, ValueError) as exc:
            log.warning("admin check in chat %d for %d failed: %s", chat_id, user_id, exc)
        return False


def _markup(client: TelegramClient, buttons: Buttons) -> Any:
    if not buttons:
        return None
    rows = [[Button.url(b.text, b.url) if b.url else Button.inline(b.text, (b.data or "").encode())
             for b in row] for row in buttons]
    return client.build_reply_markup(rows)


def _sent_id(result: Any) -> int | None:
    """The new message's id from what messages.sendMessage returned."""
    if result is None:
        return None
    if isinstance(result, types.UpdateShortSentMessage):
        return int(result.id)
    for update in getattr(result, "updates", []):
        if isinstance(update, types.UpdateMessageID):
            return int(update.id)
    return None
