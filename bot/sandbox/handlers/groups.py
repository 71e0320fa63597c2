"""Groups and their members: messages.getChats, messages.getFullChat and
channels.getParticipant."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account, FakeChannel, FakeGroup, RpcFailure, admin_rights
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World


@serves(fn.messages.GetChatsRequest)
def _get_chats(world: World, acc: Account, req: Any) -> Result:
    chats = []
    for chat_id in req.id:
        group = world.groups.get(chat_id)
        if group is None:
            raise RpcFailure(400, "CHAT_ID_INVALID")
        chats.append(group.entity_for(acc))
    return tl.messages.Chats(chats=chats)


def _chat_participant(group: FakeGroup, role: str, user_id: int) -> TLObject:
    inviter = group.creator or user_id
    if role == "creator":
        return tl.ChatParticipantCreator(user_id=user_id)
    if role == "admin":
        return tl.ChatParticipantAdmin(user_id=user_id, inviter_id=inviter, date=group.created)
    return tl.ChatParticipant(user_id=user_id, inviter_id=inviter, date=group.created)


@serves(fn.messages.GetFullChatRequest)
def _get_full_chat(world: World, acc: Account, req: Any) -> Result:
    group = world.groups.get(req.chat_id)
    if group is None:
        raise RpcFailure(400, "CHAT_ID_INVALID")
    ids: list[int] = []
    participants: TLObject
    if group.id in acc.chats:
        ids = world.participant_ids(group)
        participants = tl.ChatParticipants(
            chat_id=group.id, version=group.version,
            participants=[_chat_participant(group, world.role(group, u), u) for u in ids])
    else:  # a kicked (or never added) account no longer sees who is in the group
        participants = tl.ChatParticipantsForbidden(chat_id=group.id)
    full = tl.ChatFull(id=group.id, about="", participants=participants,
                       notify_settings=tl.PeerNotifySettings())
    users = [world.self_view(acc) if u == acc.user.id else world.users[u]
             for u in ids if u in world.users]
    return tl.messages.ChatFull(full_chat=full, chats=[group.entity_for(acc)], users=users)


def _channel_participant(ch: FakeChannel, role: str, user_id: int, acc: Account) -> TLObject:
    promoter = ch.creator or user_id
    if role == "creator":
        return tl.ChannelParticipantCreator(user_id=user_id, admin_rights=admin_rights(
            creator=True))
    if role == "admin":
        return tl.ChannelParticipantAdmin(
            user_id=user_id, promoted_by=promoter, date=ch.created, admin_rights=admin_rights(),
            can_edit=acc.user.id == ch.creator or None, is_self=user_id == acc.user.id or None)
    if user_id == acc.user.id:
        return tl.ChannelParticipantSelf(user_id=user_id, inviter_id=promoter, date=ch.created)
    return tl.ChannelParticipant(user_id=user_id, date=ch.created)


@serves(fn.channels.GetParticipantRequest)
def _get_participant(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel, read=True)
    if not isinstance(req.participant, tl.InputPeerSelf | tl.InputPeerUser):
        raise RpcFailure(400, "PARTICIPANT_ID_INVALID")
    user = world.user(acc, req.participant)
    if not world.is_participant(ch, user.id):
        raise RpcFailure(400, "USER_NOT_PARTICIPANT")
    participant = _channel_participant(ch, world.role(ch, user.id), user.id, acc)
    shown = world.self_view(acc) if user.id == acc.user.id else user
    return tl.channels.ChannelParticipant(participant=participant, chats=[ch.entity_for(acc)],
                                          users=[shown])
