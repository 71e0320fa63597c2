"""Scripted Telegram state: users, accounts, channels, pts logs, and how tests drive them."""

from __future__ import annotations

import copy
import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from telethon import utils
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
    document: bytes | None = None  # an uploaded file sent as a document
    file_name: str | None = None  # the document's DocumentAttributeFilename
    mime_type: str | None = None  # the document's mime type
    # when the fake received it (time.monotonic()), for latency measurements
    received_at: float = field(default_factory=time.monotonic)

    @property
    def html(self) -> str:
        """The text with its entities rendered back to Telethon HTML."""
        return str(html.unparse(self.text, self.entities))


def _joined(acc: Account, chat: FakeGroup | FakeChannel) -> bool:
    return chat.id in (acc.channels if isinstance(chat, FakeChannel) else acc.chats)


def _hash_ok(acc: Account, ref: Any, expected: int) -> bool:
    given = getattr(ref, "access_hash", None)
    # Bots may pass access_hash=0 for peers they have seen, as on Telegram (Telethon relies on it).
    return given == expected or (acc.is_bot and given == 0)


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
        self.groups: dict[int, FakeGroup] = {}  # basic groups; megagroups are in `channels`
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
        self.blocked: set[tuple[int, int]] = set()  # (account's user id, user who blocked it)
        # World.fail_sends: errors queued per (unmarked) peer id, and those already answered.
        self.send_failures: dict[int, list[tl.RpcError]] = {}
        self.failed_sends: list[tuple[int, str]] = []  # (peer id, error message) as served
        # World.fail_channel: (channel id, request class) -> [code, error, times left, after]
        self.channel_failures: dict[tuple[int, type], list[Any]] = {}
        self.failed_channel_reads: list[tuple[int, str, str]] = []  # (channel, request, error)
        self.uploads: dict[tuple[int, int], dict[int, bytes]] = {}  # (user id, file_id) -> parts
        self.media_seq = 0  # ids of photos/documents the accounts sent
        self.login_codes: list[LoginCode] = []  # every code auth.sendCode "sent", in order
        self.login_failures: list[str] = []  # errors the sign-in handlers answered, in order

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
                    logged_in: bool | None = None, phone: str | None = None,
                    password: str | None = None) -> Account:
        """Create a login for `user`; a bot stays logged out until it imports `bot_token`.

        A user account created with logged_in=False signs in as on Telegram: auth.sendCode to
        its `phone`, auth.signIn with World.login_code, then, if it has a two-step `password`,
        the SRP check (only the verifier is kept, not the password). The fake has no DH key
        exchange, so the starting point is a session file from FakeTelegram.write_session:
        an auth key the server knows but that is not authorised yet. That key can only become
        this account; any other phone number is PHONE_NUMBER_INVALID.
        """
        self.users.setdefault(user.id, user)
        if logged_in is None:
            logged_in = bot_token is None
        account = Account(user=user, bot_token=bot_token, logged_in=logged_in,
                          phone=re.sub(r"\D", "", phone) if phone else None,
                          two_step=Verifier.create(password) if password else None)
        self.accounts.append(account)
        return account

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
        """`from_user` writes `text` in a basic group or supergroup that `to_account` is in.

        An unknown id creates a basic group of the two of them, `from_user` its creator (use
        add_group for anything else, e.g. a sender who is not an admin). A known group must
        have `to_account` as a member (ValueError otherwise, e.g. after remove_from_group);
        `from_user` is made a member if needed. In a basic group only `to_account` gets the
        message (UpdateNewMessage in its own box); in a supergroup it is a channel message
        (UpdateNewChannelMessage, from_id=PeerUser) pushed to every member account.
        """
        chat = self.groups.get(group_chat_id) or self.channels.get(group_chat_id)
        if chat is None:
            chat = self.add_group(group_chat_id, title, [to_account, from_user],
                                  creator=from_user.id)
        if isinstance(chat, FakeChannel) and not chat.megagroup:
            raise ValueError(f"{group_chat_id} is a broadcast channel: use World.post")
        if not self.is_participant(chat, to_account.user.id):
            raise ValueError(f"account {to_account.user.id} is not in group {group_chat_id}")
        self.users.setdefault(from_user.id, from_user)
        if from_user.id not in chat.members:
            chat.members.append(from_user.id)
        if isinstance(chat, FakeGroup):
            return self._incoming(to_account, tl.PeerChat(chat.id), from_user, text,
                                  [chat.entity_for(to_account)])
        msg = tl.Message(id=chat.top_id + 1, peer_id=tl.PeerChannel(chat.id), date=now(),
                         message=text, from_id=tl.PeerUser(from_user.id),
                         entities=command_entities(text))
        self.append_channel_message(chat, msg)
        return msg

    def add_group(self, chat_id: int, title: str, members: Iterable[Account | tl.User],
                  admins: Iterable[int] = (), creator: int | None = None,
                  megagroup: bool = False, *, username: str | None = None) -> Group:
        """Create a basic group (FakeGroup) or, with megagroup=True, a supergroup (FakeChannel).

        Member accounts join it (`Account.chats` / `Account.channels`); `admins` and `creator`
        are user ids and must be members. A supergroup without `username` is private.
        """
        if chat_id in self.groups or chat_id in self.channels:
            raise ValueError(f"chat id {chat_id} is already taken")
        ids: list[int] = []
        for member in members:
            user = member.user if isinstance(member, Account) else member
            self.users.setdefault(user.id, user)
            if user.id not in ids:
                ids.append(user.id)
        admin_ids = list(admins)
        strangers = [u for u in [*admin_ids, creator] if u is not None and u not in ids]
        if strangers:
            raise ValueError(f"admins/creator {strangers} are not members of {chat_id}")
        chat: Group
        if megagroup:
            chat = self.add_channel(chat_id, title, username, private=username is None,
                                    megagroup=True)
        elif username is not None:
            raise ValueError("a basic group cannot have a username")
        else:
            chat = self.groups[chat_id] = FakeGroup(id=chat_id, title=title)
        chat.members, chat.admins, chat.creator = ids, admin_ids, creator
        for account in self.accounts:
            if account.user.id in ids:
                (account.channels if megagroup else account.chats).add(chat_id)
        return chat

    def group(self, chat_id: int) -> Group:
        """The basic group or megagroup with this (unmarked) id; KeyError if there is none."""
        chat = self.groups.get(chat_id)
        if chat is not None:
            return chat
        channel = self.channels.get(chat_id)
        if channel is None or not channel.megagroup:
            raise KeyError(f"no group {chat_id}")
        return channel

    def set_admins(self, chat_id: int, admins: Iterable[int]) -> None:
        """Replace the group's admin list (user ids, all members); the creator stays creator."""
        chat = self.group(chat_id)
        admin_ids = list(admins)
        strangers = [u for u in admin_ids if not self.is_participant(chat, u)]
        if strangers:
            raise ValueError(f"{strangers} are not members of {chat_id}")
        chat.admins = admin_ids
        if isinstance(chat, FakeGroup):
            chat.version += 1

    def remove_from_group(self, member: Account | tl.User, chat_id: int) -> None:
        """Kick a member (an account such as the bot, or a plain user) out of a group.

        A kicked account then gets, like on Telegram, 403 CHAT_WRITE_FORBIDDEN when it sends
        to a basic group (it still sees the chat, as ChatForbidden) and 400 CHANNEL_PRIVATE
        for anything addressed to a supergroup (removal bans it). Telegram tells the account:
        a MessageActionChatDeleteUser service message (basic) or UpdateChannel (supergroup).
        """
        chat = self.group(chat_id)
        uid = member.user.id if isinstance(member, Account) else member.id
        if not self.is_participant(chat, uid):
            raise ValueError(f"{uid} is not a member of group {chat_id}")
        if uid == chat.creator:
            raise ValueError("the creator cannot be removed from the group")
        chat.members = [m for m in chat.members if m != uid]
        chat.admins = [a for a in chat.admins if a != uid]
        chat.kicked.add(uid)
        for account in [a for a in self.accounts if a.user.id == uid]:
            if isinstance(chat, FakeChannel):
                account.channels.discard(chat.id)
                self.push(account, make_updates([tl.UpdateChannel(channel_id=chat.id)],
                                                chats=[chat.visible_to(account)]))
                continue
            account.chats.discard(chat.id)
            by = chat.creator or uid
            service = tl.MessageService(
                id=0, peer_id=tl.PeerChat(chat.id), date=now(), from_id=tl.PeerUser(by),
                action=tl.MessageActionChatDeleteUser(user_id=uid))
            update = self.store_in_box(account, service)
            users = [self.users[u] for u in {by, uid} if u in self.users]
            self.push(account, make_updates([update], users, [chat.entity_for(account)]))
        if isinstance(chat, FakeGroup):
            chat.version += 1

    def is_participant(self, chat: Group, user_id: int) -> bool:
        """Whether the user is in the group: by its accounts' membership, else by `members`."""
        accounts = [a for a in self.accounts if a.user.id == user_id]
        if accounts:
            return any(_joined(a, chat) for a in accounts)
        return user_id in chat.members

    def participant_ids(self, chat: Group) -> list[int]:
        """The group's members in order of `members`, then accounts that joined otherwise."""
        ids = [u for u in chat.members if self.is_participant(chat, u)]
        ids += [a.user.id for a in self.accounts if _joined(a, chat) and a.user.id not in ids]
        return list(dict.fromkeys(ids))

    def role(self, chat: Group, user_id: int) -> str:
        """The user's role: "creator", "admin" or "member" (participant or not)."""
        if user_id == chat.creator:
            return "creator"
        return "admin" if user_id in chat.admins else "member"

    def block_bot(self, user_id: int, bot_account: Account) -> None:
        """The user blocks the bot: its sends to them answer 400 USER_IS_BLOCKED."""
        self.blocked.add((bot_account.user.id, user_id))

    def unblock_bot(self, user_id: int, bot_account: Account) -> None:
        """The user unblocks the bot again."""
        self.blocked.discard((bot_account.user.id, user_id))

    def fail_channel(self, channel_id: int, request: type, error: str, *, code: int = 400,
                     times: int | None = None, after: int = 0) -> None:
        """Requests of class `request` that name this channel answer `error` (`times` times,
        or until `heal_channel`), once `after` such requests were answered normally. A
        getPeerDialogs naming it among others fails as a whole, as on Telegram. Served errors
        go to `failed_channel_reads`."""
        self.channel_failures[(channel_id, request)] = [code, error, times, after]

    def heal_channel(self, channel_id: int) -> None:
        """Stop every failure injected for this channel."""
        for key in [k for k in self.channel_failures if k[0] == channel_id]:
            del self.channel_failures[key]

    def take_channel_failure(self, req: TLObject) -> tl.RpcError | None:
        """The injected error for a request naming a failing channel, if any."""
        refs = [getattr(req, "peer", None), getattr(req, "channel", None),
                *(getattr(p, "peer", None) for p in getattr(req, "peers", None) or ())]
        for ref in refs:
            channel_id = getattr(ref, "channel_id", None)
            if not isinstance(channel_id, int):
                continue
            key = (channel_id, type(req))
            failure = self.channel_failures.get(key)
            if failure is None:
                continue
            code, error, times, after = failure
            if after > 0:
                failure[3] = after - 1
                return None
            if times is not None:
                failure[2] = times - 1
                if times - 1 <= 0:
                    del self.channel_failures[key]
            self.failed_channel_reads.append((channel_id, type(req).__name__, str(error)))
            return tl.RpcError(error_code=code, error_message=error)
        return None

    def fail_sends(self, peer_id: int, error: str, times: int = 1, code: int = 400) -> None:
        """The next `times` SendMessage/SendMedia/EditMessage to this peer answer `error`.

        `peer_id` is unmarked, like `sent_to`'s. The request never reaches its handler, so
        nothing is recorded and its random_id stays unused. Served errors go to `failed_sends`.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        queue = self.send_failures.setdefault(peer_id, [])
        queue += [tl.RpcError(error_code=code, error_message=error) for _ in range(times)]

    def take_send_failure(self, peer_id: int | None) -> tl.RpcError | None:
        """Pop the next injected error for sends to `peer_id`, recording it as served."""
        if peer_id is None or not self.send_failures.get(peer_id):
            return None
        queue = self.send_failures[peer_id]
        error = queue.pop(0)
        if not queue:
            del self.send_failures[peer_id]
        self.failed_sends.append((peer_id, error.error_message))
        return error

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

    def store_in_box(self, acc: Account, msg: TLObject) -> tl.UpdateNewMessage:
        """Give `msg` the account's next message id and pts and log it in its common box."""
        acc.pts += 1
        acc.last_msg_id += 1
        msg.id = acc.last_msg_id
        update = tl.UpdateNewMessage(message=msg, pts=acc.pts, pts_count=1)
        acc.log.append((acc.pts, update))
        return update

    def _incoming(self, acc: Account, peer: TLObject, sender: tl.User, text: str,
                  chats: list[TLObject]) -> tl.Message:
        # Telethon can only reply by user id later if the sender comes with the update.
        self.users.setdefault(sender.id, sender)
        msg = tl.Message(id=0, peer_id=peer, date=now(), message=text,
                         from_id=tl.PeerUser(sender.id), entities=command_entities(text))
        update = self.store_in_box(acc, msg)
        self.push(acc, make_updates([update], [sender], chats))
        return msg

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
                    chats[peer.chat_id] = self.groups[peer.chat_id].entity
                elif isinstance(peer, tl.PeerChannel) and peer.channel_id in self.channels:
                    chats[peer.channel_id] = self.channels[peer.channel_id].entity
        return list(users.values()), list(chats.values())

    # ------------------------------------------------------------------ peer resolution
    def channel(self, acc: Account, ref: Any, *, read: bool = False) -> FakeChannel:
        """Resolve an InputChannel/InputPeerChannel (checking its hash, and access if `read`)."""
        ch = self.channels.get(getattr(ref, "channel_id", 0))
        if ch is None or not _hash_ok(acc, ref, access_hash(ch.id)):
            raise RpcFailure(400, "CHANNEL_INVALID")
        # Telegram answers CHANNEL_PRIVATE both to outsiders of private channels and to anyone
        # banned from a channel, which is what removing a member from a supergroup does.
        if read and ((ch.private and ch.id not in acc.channels) or acc.user.id in ch.kicked):
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
            group = self.groups.get(ref.chat_id)
            # A kicked member still has the chat (ChatForbidden); writing to it is refused later.
            if ref.chat_id not in acc.chats and (group is None or acc.user.id not in group.kicked):
                raise RpcFailure(400, "PEER_ID_INVALID")
            return tl.PeerChat(ref.chat_id)
        return tl.PeerUser(self.user(acc, ref).id)

    def check_can_write(self, acc: Account, peer: TLObject) -> None:
        """Refuse writing (send or edit) to a group or channel the account is not in."""
        # A member kicked from a basic group gets 403 CHAT_WRITE_FORBIDDEN, as on Telegram
        # (a kicked supergroup member never gets here: resolving the peer is CHANNEL_PRIVATE).
        if isinstance(peer, tl.PeerChat) and peer.chat_id not in acc.chats:
            raise RpcFailure(403, "CHAT_WRITE_FORBIDDEN")
        if isinstance(peer, tl.PeerChannel) and peer.channel_id not in acc.channels:
            raise RpcFailure(403, "CHAT_WRITE_FORBIDDEN")

    def check_can_send(self, acc: Account, peer: TLObject) -> None:
        """Refuse a new message: not a member (see check_can_write) or blocked by the user."""
        self.check_can_write(acc, peer)
        if isinstance(peer, tl.PeerUser) and (acc.user.id, peer.user_id) in self.blocked:
            raise RpcFailure(400, "USER_IS_BLOCKED")

    def self_view(self, acc: Account) -> tl.User:
        """The account's own User, flagged `is_self` as Telegram sends it to its owner."""
        me = copy.copy(acc.user)
        me.is_self = True
        return me

    def state(self, acc: Account) -> tl.updates.State:
        """The account's common-box update state."""
        return tl.updates.State(pts=acc.pts, qts=0, date=now(), seq=0, unread_count=0)
