"""The fake's entities (accounts, channels, groups, login codes, sent messages) and TL helpers.

Plain data: the World (bot/sandbox/world.py) holds them and changes them; the handlers read them.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from telethon.extensions import html
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.srp import Challenge, Verifier

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


def admin_rights(*, creator: bool = False) -> tl.ChatAdminRights:
    """The rights of a group admin as the fake grants them (a creator can also add admins)."""
    return tl.ChatAdminRights(change_info=True, delete_messages=True, ban_users=True,
                              invite_users=True, pin_messages=True, manage_call=True,
                              other=True, add_admins=creator or None)


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
    # Signing in (handlers: auth.sendCode, auth.signIn, account.getPassword, auth.checkPassword).
    phone: str | None = None  # digits only, as Telethon sends it
    two_step: Verifier | None = field(default=None, repr=False)  # the two-step password's
    awaiting_password: bool = False  # the code was right; auth.checkPassword comes next
    srp_challenge: Challenge | None = field(default=None, repr=False)  # the last getPassword's

    @property
    def is_bot(self) -> bool:
        """Whether this account is a bot."""
        return bool(self.user.bot)


@dataclass(eq=False)
class LoginCode:
    """A login code the fake "sent" for auth.sendCode; a test reads it as World.login_code."""

    account: Account
    phone: str
    phone_code_hash: str
    code: str
    expired: bool = False  # used, superseded by a newer code, or World.expire_login_code


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
    # Roles, as World.add_group sets them. Accounts' membership is `Account.channels`; `members`
    # also lists plain users. `kicked` users were removed (banned): the channel is private to them.
    members: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    creator: int | None = None
    kicked: set[int] = field(default_factory=set)

    @property
    def entity(self) -> tl.Channel:
        """The Channel object as a member sees it."""
        return tl.Channel(id=self.id, title=self.title, photo=tl.ChatPhotoEmpty(),
                          date=self.created, broadcast=not self.megagroup,
                          megagroup=self.megagroup, access_hash=access_hash(self.id),
                          username=self.username)

    def entity_for(self, account: Account) -> tl.Channel:
        """The Channel object as `account` sees it (`left` when not a member, its admin rights)."""
        entity = self.entity
        entity.left = self.id not in account.channels
        uid = account.user.id
        entity.creator = uid == self.creator or None
        if uid == self.creator or uid in self.admins:
            entity.admin_rights = admin_rights(creator=uid == self.creator)
        return entity

    def visible_to(self, account: Account) -> TLObject:
        """What `account` may see: ChannelForbidden if private to it (or it was kicked)."""
        if (self.private and self.id not in account.channels) or account.user.id in self.kicked:
            return tl.ChannelForbidden(id=self.id, access_hash=access_hash(self.id),
                                       title=self.title, broadcast=not self.megagroup or None,
                                       megagroup=self.megagroup)
        return self.entity_for(account)


@dataclass(eq=False)
class FakeGroup:
    """A basic group (tl.Chat, PeerChat): each member account keeps its own copy of messages."""

    id: int
    title: str
    created: dt.datetime = field(default_factory=now)
    version: int = 1  # bumped whenever the participant list or roles change
    # Accounts' membership is `Account.chats`; `members` also lists plain users.
    members: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    creator: int | None = None
    kicked: set[int] = field(default_factory=set)

    @property
    def entity(self) -> tl.Chat:
        """The Chat object as a member sees it."""
        return tl.Chat(id=self.id, title=self.title, photo=tl.ChatPhotoEmpty(),
                       participants_count=len(self.members), date=self.created,
                       version=self.version)

    def entity_for(self, account: Account) -> TLObject:
        """The chat as `account` sees it: ChatForbidden once kicked, else Chat with its rights."""
        uid = account.user.id
        if uid in self.kicked:
            return tl.ChatForbidden(id=self.id, title=self.title)
        chat = self.entity
        chat.left = self.id not in account.chats or None
        chat.creator = uid == self.creator or None
        if uid == self.creator or uid in self.admins:
            chat.admin_rights = admin_rights(creator=uid == self.creator)
        return chat


# What World.add_group creates: a basic group or a megagroup.
Group: TypeAlias = FakeGroup | FakeChannel


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
    peer: Any = None  # the tl.Peer it went to (PeerUser / PeerChat / PeerChannel)
    photo: bytes | None = None  # an uploaded photo, reassembled from its parts
    by_reference: bool = False  # the photo was sent again by its InputPhoto, not uploaded
    document: bytes | None = None  # an uploaded file sent as a document
    file_name: str | None = None  # the document's DocumentAttributeFilename
    mime_type: str | None = None  # the document's mime type
    # when the fake received it (time.monotonic()), for latency measurements
    received_at: float = field(default_factory=time.monotonic)

    @property
    def html(self) -> str:
        """The text with its entities rendered back to Telethon HTML."""
        return str(html.unparse(self.text, self.entities))


def make_updates(updates: list[TLObject], users: Iterable[tl.User] = (),
                 chats: Iterable[TLObject] = ()) -> tl.Updates:
    """Wrap updates the way Telegram pushes them."""
    # seq=0 means "no sequence": Telethon then relies on each update's pts only.
    return tl.Updates(updates=updates, users=list(users), chats=list(chats), date=now(), seq=0)


def command_entities(text: str) -> list[TLObject] | None:
    """A bot-command entity for text starting with "/" (as Telegram marks it), else None."""
    if text.startswith("/"):
        return [tl.MessageEntityBotCommand(offset=0, length=len(text.split()[0]))]
    return None
