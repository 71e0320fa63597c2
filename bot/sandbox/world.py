"""Scripted Telegram state: users, accounts, channels, pts logs, and how tests drive them."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telethon.extensions import html
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

_USERNAME = re.compile(r"^[a-z](?:(?!__)\w){2,30}[a-z\d]$", re.IGNORECASE)


def valid_username(name: str) -> bool:
    """Whether `name` is syntactically a Telegram username (4-32 chars, letter first)."""
    return bool(_USERNAME.match(name))


class RpcFailure(Exception):
    """Raised by a handler to answer the request with an RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.error = tl.RpcError(error_code=code, error_message=message)


class UpdateSink(Protocol):
    """A live client connection that can receive pushed updates."""

    def push(self, updates: TLObject) -> None:
        """Send an Updates object to the client unsolicited."""


def now() -> dt.datetime:
    """Current UTC time at second precision (what MTProto dates can carry)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def access_hash(entity_id: int) -> int:
    """Deterministic, non-zero access hash so tests can build input peers by hand."""
    return (entity_id * 2654435761 + 97) % (1 << 62) + 1


@dataclass(eq=False)
class Account:
    """One login (user or bot); the server maps registered auth keys to it."""

    user: tl.User
    bot_token: str | None = None
    logged_in: bool = True
    channels: set[int] = field(default_factory=set)
    chats: set[int] = field(default_factory=set)
    pts: int = 1
    last_msg_id: int = 0
    log: list[tuple[int, TLObject]] = field(default_factory=list, repr=False)  # (pts, update)
    connections: set[UpdateSink] = field(default_factory=set, repr=False)

    @property
    def is_bot(self) -> bool:
        """Whether this account is a bot."""
        return bool(self.user.bot)


@dataclass(eq=False)
class FakeChannel:
    """A broadcast channel or megagroup with its own pts sequence and history."""

    id: int
    title: str
    username: str | None = None
    private: bool = False
    megagroup: bool = False
    created: dt.datetime = field(default_factory=now)
    pts: int = 1
    top_id: int = 0
    messages: dict[int, tl.Message] = field(default_factory=dict, repr=False)  # live versions
    log: list[tuple[int, TLObject]] = field(default_factory=list, repr=False)  # (pts, update)

    @property
    def entity(self) -> tl.Channel:
        """The Channel object as a member sees it."""
        return tl.Channel(id=self.id, title=self.title, photo=tl.ChatPhotoEmpty(),
                          date=self.created, broadcast=not self.megagroup,
                          megagroup=self.megagroup, access_hash=access_hash(self.id),
                          username=self.username)

    def entity_for(self, account: Account) -> tl.Channel:
        """The Channel object as `account` sees it (`left` set when not a member)."""
        entity = self.entity
        entity.left = self.id not in account.channels
        return entity


@dataclass(eq=False)
class SentMessage:
    """A message an account sent (or, in `World.edited`, an edit it made)."""

    account: Account
    peer_id: int
    text: str
    entities: list[Any]
    random_id: int
    no_webpage: bool
    reply_markup: Any
    msg_id: int = 0
    reply_to: int | None = None

    @property
    def html(self) -> str:
        """The text with its entities rendered back to Telethon HTML."""
        return str(html.unparse(self.text, self.entities))


def _hash_ok(acc: Account, ref: Any, expected: int) -> bool:
    given = getattr(ref, "access_hash", None)
    # Bots may pass access_hash=0 for peers they have seen, as on Telegram (Telethon relies on it).
    return given == expected or (acc.is_bot and given == 0)


def make_updates(updates: list[TLObject], users: Iterable[tl.User] = (),
                 chats: Iterable[TLObject] = ()) -> tl.Updates:
    """Wrap updates the way Telegram pushes them."""
    # seq=0 means "no sequence": Telethon then relies on each update's pts only.
    return tl.Updates(updates=updates, users=list(users), chats=list(chats), date=now(), seq=0)


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


class World:
    """The fake Telegram's state; tests script it and the server asks it to answer requests."""

    def __init__(self) -> None:
        self.config: tl.Config | None = None  # set by FakeTelegram: it knows the port
        self.users: dict[int, tl.User] = {}
        self.accounts: list[Account] = []
        self.channels: dict[int, FakeChannel] = {}
        self.groups: dict[int, tl.Chat] = {}
        self.sent: list[SentMessage] = []
        self.edited: list[SentMessage] = []
        self.bot_commands: list[tl.BotCommand] = []
        self.unscripted: list[TLObject] = []
        self.rpc_errors: dict[type, list[tl.RpcError] | tl.RpcError] = {}
        # Like Telegram, a random_id is accepted once per account: a resend after a crash
        # answers RANDOM_ID_DUPLICATE instead of delivering the message twice.
        self.random_ids: set[tuple[int, int]] = set()
        self.callback_queries = 0
        self.callback_answers: list[TLObject] = []  # messages.setBotCallbackAnswer requests
        self.duplicate_sends = 0

    # ------------------------------------------------------------------ scripting API
    def add_user(self, user_id: int, first_name: str, username: str | None = None, *,
                 bot: bool = False) -> tl.User:
        """Create a user (or bot user) known to the world."""
        if username is not None and not valid_username(username):
            raise ValueError(f"invalid username {username!r}")
        user = tl.User(id=user_id, access_hash=access_hash(user_id), first_name=first_name,
                       username=username, bot=bot or None, bot_info_version=1 if bot else None)
        self.users[user_id] = user
        return user

    def add_account(self, user: tl.User, *, bot_token: str | None = None,
                    logged_in: bool | None = None) -> Account:
        """Create a login for `user`; a bot stays logged out until it imports `bot_token`."""
        self.users.setdefault(user.id, user)
        if logged_in is None:
            logged_in = bot_token is None
        account = Account(user=user, bot_token=bot_token, logged_in=logged_in)
        self.accounts.append(account)
        return account

    def add_channel(self, channel_id: int, title: str, username: str | None = None, *,
                    private: bool = False, megagroup: bool = False) -> FakeChannel:
        """Create a broadcast channel (or megagroup); private ones have no username."""
        if private and username:
            raise ValueError("a private channel cannot have a username")
        if username is not None and not valid_username(username):
            raise ValueError(f"invalid username {username!r}")
        ch = FakeChannel(id=channel_id, title=title, username=username, private=private,
                         megagroup=megagroup)
        self.channels[channel_id] = ch
        return ch

    def post(self, ch: FakeChannel, text: str, *, deliver: bool = True, views: int | None = None,
             forwards: int | None = None, fwd_from_channel: int | None = None,
             fwd_from_msg_id: int | None = None, reply_to: int | None = None,
             grouped_id: int | None = None, media: str | None = None,
             date: dt.datetime | None = None, from_user: tl.User | None = None) -> tl.Message:
        """Publish a message in `ch`; pushed live to members' connections unless deliver=False."""
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
                         grouped_id=grouped_id, media=_media(media, ch.id * 1_000_000 + msg_id))
        self.append_channel_message(ch, msg, deliver=deliver)
        return msg

    def edit(self, ch: FakeChannel, msg_id: int, text: str) -> tl.Message:
        """Edit a channel message and push UpdateEditChannelMessage to members."""
        msg = copy.copy(ch.messages[msg_id])
        msg.message, msg.edit_date = text, now()
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

    def private_message(self, to_account: Account, from_user: tl.User, text: str) -> tl.Message:
        """`from_user` writes `text` to `to_account` in a private chat."""
        return self._incoming(to_account, tl.PeerUser(from_user.id), from_user, text, [])

    def group_message(self, to_account: Account, group_chat_id: int, from_user: tl.User,
                      text: str, title: str = "Group") -> tl.Message:
        """`from_user` writes `text` in a basic group that `to_account` is in."""
        chat = self.groups.setdefault(group_chat_id, tl.Chat(
            id=group_chat_id, title=title, photo=tl.ChatPhotoEmpty(), participants_count=2,
            date=now(), version=1))
        to_account.chats.add(group_chat_id)
        return self._incoming(to_account, tl.PeerChat(group_chat_id), from_user, text, [chat])

    def sent_to(self, peer_id: int) -> list[SentMessage]:
        """Messages sent to the user, chat or channel with this (unmarked) id."""
        return [s for s in self.sent if s.peer_id == peer_id]

    def members(self, ch: FakeChannel) -> list[Account]:
        """Accounts that joined `ch`."""
        return [a for a in self.accounts if ch.id in a.channels]

    # ------------------------------------------------------------------ used by the handlers
    def append_channel_message(self, ch: FakeChannel, msg: tl.Message, *, deliver: bool = True,
                               skip: Account | None = None) -> tl.UpdateNewChannelMessage:
        """Store a new channel message under the next pts and push it to members but `skip`."""
        ch.top_id = msg.id
        ch.pts += 1
        ch.messages[msg.id] = msg
        update = tl.UpdateNewChannelMessage(message=msg, pts=ch.pts, pts_count=1)
        self.channel_update(ch, update, deliver=deliver, skip=skip)
        return update

    def channel_update(self, ch: FakeChannel, update: TLObject, *, deliver: bool = True,
                       skip: Account | None = None) -> None:
        """Log a channel update at the current pts and push it to members but `skip`."""
        ch.log.append((ch.pts, update))  # always logged so getChannelDifference can recover it
        if not deliver:
            return
        users, _ = self.entities(getattr(update, "message", None) and [update.message])
        for account in self.members(ch):
            if account is not skip:
                self.push(account, make_updates([update], users, [ch.entity_for(account)]))

    def _incoming(self, acc: Account, peer: TLObject, sender: tl.User, text: str,
                  chats: list[TLObject]) -> tl.Message:
        # Telethon can only reply by user id later if the sender comes with the update.
        self.users.setdefault(sender.id, sender)
        entities = None
        if text.startswith("/"):
            entities = [tl.MessageEntityBotCommand(offset=0, length=len(text.split()[0]))]
        acc.pts += 1
        acc.last_msg_id += 1
        msg = tl.Message(id=acc.last_msg_id, peer_id=peer, date=now(), message=text,
                         from_id=tl.PeerUser(sender.id), entities=entities)
        update = tl.UpdateNewMessage(message=msg, pts=acc.pts, pts_count=1)
        acc.log.append((acc.pts, update))
        self.push(acc, make_updates([update], [sender], chats))
        return msg

    def press_button(self, to_account: Account, from_user: tl.User, message: SentMessage,
                     data: bytes) -> int:
        """`from_user` presses an inline button (callback `data`) under the bot's `message`."""
        self.users.setdefault(from_user.id, from_user)
        self.callback_queries += 1
        query_id = self.callback_queries
        update = tl.UpdateBotCallbackQuery(
            query_id=query_id, user_id=from_user.id, peer=tl.PeerUser(message.peer_id),
            msg_id=message.msg_id, chat_instance=1, data=data)
        self.push(to_account, make_updates([update], [from_user], []))
        return query_id

    def push(self, account: Account, updates: TLObject) -> None:
        """Send `updates` to every live connection of `account`."""
        for conn in list(account.connections):
            conn.push(updates)

    def entities(self, messages: Iterable[TLObject] | None) -> tuple[list[tl.User], list[TLObject]]:
        """Users and chats a client needs alongside `messages` (peers, senders, forwards)."""
        users: dict[int, tl.User] = {}
        chats: dict[int, TLObject] = {}
        for m in messages or ():
            for peer in (m.peer_id, getattr(m, "from_id", None),
                         getattr(getattr(m, "fwd_from", None), "from_id", None)):
                if isinstance(peer, tl.PeerUser) and peer.user_id in self.users:
                    users[peer.user_id] = self.users[peer.user_id]
                elif isinstance(peer, tl.PeerChat) and peer.chat_id in self.groups:
                    chats[peer.chat_id] = self.groups[peer.chat_id]
                elif isinstance(peer, tl.PeerChannel) and peer.channel_id in self.channels:
                    chats[peer.channel_id] = self.channels[peer.channel_id].entity
        return list(users.values()), list(chats.values())

    # ------------------------------------------------------------------ peer resolution
    def channel(self, acc: Account, ref: Any, *, read: bool = False) -> FakeChannel:
        """Resolve an InputChannel/InputPeerChannel (checking its hash, and access if `read`)."""
        ch = self.channels.get(getattr(ref, "channel_id", 0))
        if ch is None or not _hash_ok(acc, ref, access_hash(ch.id)):
            raise RpcFailure(400, "CHANNEL_INVALID")
        if read and ch.private and ch.id not in acc.channels:
            raise RpcFailure(400, "CHANNEL_PRIVATE")
        return ch

    def user(self, acc: Account, ref: Any) -> tl.User:
        """Resolve an InputUser/InputPeerUser/InputUserSelf to the user it names."""
        if isinstance(ref, tl.InputUserSelf | tl.InputPeerSelf):
            return acc.user
        user = self.users.get(getattr(ref, "user_id", 0))
        if user is None or not _hash_ok(acc, ref, user.access_hash):
            raise RpcFailure(400, "PEER_ID_INVALID")
        return user

    def peer(self, acc: Account, ref: Any) -> TLObject:
        """Resolve an input peer to its Peer, validating hashes and membership."""
        if isinstance(ref, tl.InputPeerChannel):
            return tl.PeerChannel(self.channel(acc, ref, read=True).id)
        if isinstance(ref, tl.InputPeerChat):
            if ref.chat_id not in acc.chats:
                raise RpcFailure(400, "PEER_ID_INVALID")
            return tl.PeerChat(ref.chat_id)
        return tl.PeerUser(self.user(acc, ref).id)

    def self_view(self, acc: Account) -> tl.User:
        """The account's own User, flagged `is_self` as Telegram sends it to its owner."""
        me = copy.copy(acc.user)
        me.is_self = True
        return me

    def state(self, acc: Account) -> tl.updates.State:
        """The account's common-box update state."""
        return tl.updates.State(pts=acc.pts, qts=0, date=now(), seq=0, unread_count=0)
