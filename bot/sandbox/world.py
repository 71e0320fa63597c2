"""Scripted Telegram state: users, accounts, channels, pts logs, and how tests drive them.

``World`` is what tests and ``chanwatch demo`` script. It is put together from
``state.WorldState`` (the containers, delivery and peer resolution the handlers use),
``groups.GroupScripting`` (basic groups and supergroups) and ``faults.FaultInjection``
(scripted errors); the entities it holds are in ``entities``, and are importable from here too.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from telethon import utils
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import (
    Account,
    FakeChannel,
    FakeGroup,
    Group,
    LoginCode,
    RpcFailure,
    SentMessage,
    UpdateSink,
    access_hash,
    admin_rights,
    command_entities,
    make_updates,
    now,
    valid_username,
)
from bot.sandbox.faults import FaultInjection
from bot.sandbox.files import FileServing
from bot.sandbox.groups import GroupScripting

__all__ = ["Account", "FakeChannel", "FakeGroup", "Group", "LoginCode", "RpcFailure",
           "SentMessage", "UpdateSink", "World", "access_hash", "admin_rights",
           "command_entities", "make_updates", "now", "valid_username"]


def _media(kind: str | None, seed: int) -> TLObject | None:
    if kind is None:
        return None
    if kind == "photo":
        return tl.MessageMediaPhoto(photo=tl.Photo(
            id=seed, access_hash=access_hash(seed), file_reference=b"\x01", date=now(),
            sizes=[tl.PhotoSize(type="x", w=800, h=600, size=54321)], dc_id=2))
    if kind == "document":
        return tl.MessageMediaDocument(document=tl.Document(
            id=seed, access_hash=access_hash(seed), file_reference=b"\x01", date=now(),
            mime_type="application/pdf", size=12345, dc_id=2,
            attributes=[tl.DocumentAttributeFilename(file_name="file.pdf")]))
    raise ValueError(f"unsupported media kind {kind!r}")


class World(GroupScripting, FaultInjection, FileServing):
    """The fake Telegram's state; tests script it and the server asks it to answer requests."""

    # ------------------------------------------------------------------ signing in
    @property
    def login_code(self) -> str:
        """The code of the last auth.sendCode, which the person would read in their app."""
        if not self.login_codes:
            raise LookupError("no login code has been sent")
        return self.login_codes[-1].code

    def expire_login_code(self) -> None:
        """The last code expires: signing in with it answers PHONE_CODE_EXPIRED."""
        if not self.login_codes:
            raise LookupError("no login code has been sent")
        self.login_codes[-1].expired = True

    # ------------------------------------------------------------------ channel posts
    def post(self, ch: FakeChannel, text: str, *, deliver: bool = True, views: int | None = None,
             forwards: int | None = None, fwd_from_channel: int | None = None,
             fwd_from_msg_id: int | None = None, reply_to: int | None = None,
             grouped_id: int | None = None, media: str | None = None,
             date: dt.datetime | None = None, from_user: tl.User | None = None,
             media_data: bytes | None = None, mime_type: str = "application/pdf",
             file_name: str = "file.pdf", thumb_data: bytes | None = None,
             media_from: tl.Message | None = None) -> tl.Message:
        """Publish a message in `ch`; pushed live to members' connections unless deliver=False.

        ``media_data``: the bytes of the photo or document (served by upload.getFile);
        without them the media is a placeholder that cannot be downloaded. ``thumb_data``: a
        document's thumbnail (a video's first frame), served as its size "m". ``media_from``:
        carry that message's very photo or document (a copy-repost: Telegram keeps the file).
        """
        fwd = reply = None
        if fwd_from_channel is not None:
            fwd = tl.MessageFwdHeader(date=date or now(), from_id=tl.PeerChannel(fwd_from_channel),
                                      channel_post=fwd_from_msg_id)
        if reply_to is not None:
            reply = tl.MessageReplyHeader(reply_to_msg_id=reply_to)
        # Megagroup messages always carry a sender; an anonymous admin posts "as the group".
        sender = tl.PeerUser(from_user.id) if from_user else None
        if from_user:
            self.users.setdefault(from_user.id, from_user)
        elif ch.megagroup:
            sender = tl.PeerChannel(ch.id)
        msg_id = ch.top_id + 1
        msg = tl.Message(id=msg_id, peer_id=tl.PeerChannel(ch.id), date=date or now(),
                         message=text, post=not ch.megagroup or None, from_id=sender,
                         views=views, forwards=forwards, fwd_from=fwd, reply_to=reply,
                         grouped_id=grouped_id,
                         media=media_from.media if media_from is not None else self._post_media(
                             media, ch.id * 1_000_000 + msg_id, media_data, mime_type, file_name,
                             thumb_data))
        self.append_channel_message(ch, msg, deliver=deliver)
        return msg

    def _post_media(self, kind: str | None, seed: int, data: bytes | None, mime_type: str,
                    file_name: str, thumb: bytes | None = None) -> TLObject | None:
        if data is None:
            return _media(kind, seed)
        if kind == "photo":
            return tl.MessageMediaPhoto(photo=self.store_photo(data, file_id=seed))
        attributes: list[Any] = [tl.DocumentAttributeFilename(file_name=file_name)]
        if kind == "video":
            attributes.append(tl.DocumentAttributeVideo(duration=5.0, w=640, h=360))
        elif kind == "voice":
            attributes.append(tl.DocumentAttributeAudio(duration=3, voice=True))
        elif kind != "document":
            raise ValueError(f"media_data for media kind {kind!r}")
        return tl.MessageMediaDocument(document=self.store_document(
            data, mime_type, attributes, file_id=seed, thumb=thumb))

    def edit(self, ch: FakeChannel, msg_id: int, text: str, *,
             photo: bytes | None = None) -> tl.Message:
        """Edit a channel message (its text; ``photo``: a new picture in place of its media)
        and push UpdateEditChannelMessage to members."""
        msg = copy.copy(ch.messages[msg_id])
        msg.message, msg.edit_date = text, now()
        if photo is not None:
            msg.media = tl.MessageMediaPhoto(photo=self.store_photo(photo))
        ch.messages[msg_id] = msg
        ch.pts += 1
        self.channel_update(ch, tl.UpdateEditChannelMessage(message=msg, pts=ch.pts, pts_count=1))
        return msg

    def delete(self, ch: FakeChannel, ids: list[int]) -> None:
        """Delete channel messages and push UpdateDeleteChannelMessages to members."""
        for msg_id in ids:
            ch.messages.pop(msg_id, None)
        ch.pts += len(ids)  # a deletion consumes one pts per message
        self.channel_update(ch, tl.UpdateDeleteChannelMessages(
            channel_id=ch.id, messages=list(ids), pts=ch.pts, pts_count=len(ids)))

    def set_engagement(self, ch: FakeChannel | int, msg_id: int, *, views: int | None = None,
                       forwards: int | None = None,
                       reactions: dict[str, int] | None = None) -> tl.Message:
        """A post's views, forwards or reactions ({emoji: count}) change; None: unchanged.

        Nothing is pushed (Telegram does not push them to a reader either): the new numbers
        show in channels.getMessages and messages.getHistory. ``reactions={}``: none left.
        """
        channel = ch if isinstance(ch, FakeChannel) else self.channels[ch]
        msg = copy.copy(channel.messages[msg_id])  # a message handed out before stays as it was
        if views is not None:
            msg.views = views
        if forwards is not None:
            msg.forwards = forwards
        if reactions is not None:
            msg.reactions = tl.MessageReactions(results=[
                tl.ReactionCount(reaction=tl.ReactionEmoji(emoticon=emoji), count=count)
                for emoji, count in reactions.items()]) if reactions else None
        channel.messages[msg_id] = msg
        return msg

    # ------------------------------------------------------------------ users and the bot
    def private_message(self, to_account: Account, from_user: tl.User, text: str, *,
                        reply_to: int | None = None) -> tl.Message:
        """`from_user` writes `text` to `to_account` in a private chat (as a reply to the
        message with id `reply_to` there, if given)."""
        return self._incoming(to_account, tl.PeerUser(from_user.id), from_user, text, [],
                              reply_to=reply_to)

    def press_button(self, to_account: Account, from_user: tl.User, message: SentMessage,
                     data: bytes) -> int:
        """`from_user` presses an inline button (callback `data`) under the bot's `message`.

        The query's peer is where `message` went: the private chat, basic group or supergroup.
        """
        self.users.setdefault(from_user.id, from_user)
        self.callback_queries += 1
        query_id = self.callback_queries
        peer = message.peer if message.peer is not None else tl.PeerUser(message.peer_id)
        chats: list[TLObject] = []
        chat_instance = 1
        if isinstance(peer, tl.PeerChat) and peer.chat_id in self.groups:
            chats = [self.groups[peer.chat_id].entity_for(to_account)]
        elif isinstance(peer, tl.PeerChannel) and peer.channel_id in self.channels:
            chats = [self.channels[peer.channel_id].entity_for(to_account)]
        if chats:
            chat_instance = utils.get_peer_id(peer)  # any int64 that is stable per chat
        update = tl.UpdateBotCallbackQuery(
            query_id=query_id, user_id=from_user.id, peer=peer, msg_id=message.msg_id,
            chat_instance=chat_instance, data=data)
        self.push(to_account, make_updates([update], [from_user], chats))
        return query_id

    def block_bot(self, user_id: int, bot_account: Account) -> None:
        """The user blocks the bot: its sends to them answer 400 USER_IS_BLOCKED."""
        self.blocked.add((bot_account.user.id, user_id))

    def unblock_bot(self, user_id: int, bot_account: Account) -> None:
        """The user unblocks the bot again."""
        self.blocked.discard((bot_account.user.id, user_id))

    def sent_to(self, peer_id: int) -> list[SentMessage]:
        """Messages sent to the user, chat or channel with this (unmarked) id."""
        return [s for s in self.sent if s.peer_id == peer_id]
