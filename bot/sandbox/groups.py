"""Groups in the World: basic groups and supergroups, their members, roles and messages."""

from __future__ import annotations

from collections.abc import Iterable

from telethon.tl import types as tl

from bot.sandbox.entities import (
    Account,
    FakeChannel,
    FakeGroup,
    Group,
    command_entities,
    make_updates,
    now,
)
from bot.sandbox.state import WorldState


def _joined(acc: Account, chat: FakeGroup | FakeChannel) -> bool:
    return chat.id in (acc.channels if isinstance(chat, FakeChannel) else acc.chats)


class GroupScripting(WorldState):
    """Creating groups, writing in them, changing admins, removing members (mixed into World)."""

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
