"""The World's state and what every part of the fake builds on.

``WorldState`` holds the users, accounts, channels and groups and what was sent, creates users,
accounts and channels, keeps the pts logs and pushes updates to live connections, and resolves
input peers the way Telegram checks them. ``World`` (bot/sandbox/world.py) adds the scripting
API on top; groups (bot/sandbox/groups.py) and fault injection (bot/sandbox/faults.py) are
mixed in from their own modules.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import (
    Account,
    FakeChannel,
    FakeGroup,
    LoginCode,
    RpcFailure,
    SentMessage,
    access_hash,
    command_entities,
    make_updates,
    now,
    valid_username,
)
from bot.sandbox.srp import Verifier


def _hash_ok(acc: Account, ref: Any, expected: int) -> bool:
    given = getattr(ref, "access_hash", None)
    # Bots may pass access_hash=0 for peers they have seen, as on Telegram (Telethon relies on it).
    return given == expected or (acc.is_bot and given == 0)


class WorldState:
    """The fake Telegram's state, and the bookkeeping the handlers and the scripting API share."""

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
        # Like Telegram, a random_id is accepted once per account: a resend after a crash
        # answers RANDOM_ID_DUPLICATE instead of delivering the message twice.
        self.random_ids: set[tuple[int, int]] = set()
        self.callback_queries = 0
        self.callback_answers: list[TLObject] = []  # messages.setBotCallbackAnswer requests
        self.duplicate_sends = 0
        self.blocked: set[tuple[int, int]] = set()  # (account's user id, user who blocked it)
        self.uploads: dict[tuple[int, int], dict[int, bytes]] = {}  # (user id, file_id) -> parts
        self.media_seq = 0  # ids of photos/documents the accounts sent
        self.login_codes: list[LoginCode] = []  # every code auth.sendCode "sent", in order
        self.login_failures: list[str] = []  # errors the sign-in handlers answered, in order

    # ------------------------------------------------------------------ creating entities
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

    def members(self, ch: FakeChannel) -> list[Account]:
        """Accounts that joined `ch`."""
        return [a for a in self.accounts if ch.id in a.channels]

    # ------------------------------------------------------------------ logs and delivery
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
                  chats: list[TLObject], reply_to: int | None = None) -> tl.Message:
        # Telethon can only reply by user id later if the sender comes with the update.
        self.users.setdefault(sender.id, sender)
        header = tl.MessageReplyHeader(reply_to_msg_id=reply_to) if reply_to else None
        msg = tl.Message(id=0, peer_id=peer, date=now(), message=text,
                         from_id=tl.PeerUser(sender.id), entities=command_entities(text),
                         reply_to=header)
        update = self.store_in_box(acc, msg)
        self.push(acc, make_updates([update], [sender], chats))
        return msg

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
