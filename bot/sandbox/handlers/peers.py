"""Finding users and channels, joining and leaving: users.getUsers, contacts.resolveUsername,
channels.getChannels, channels.joinChannel and channels.leaveChannel."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions as fn
from telethon.tl import types as tl

from bot.sandbox.entities import Account, RpcFailure, make_updates, valid_username
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World


@serves(fn.users.GetUsersRequest)
def _get_users(world: World, acc: Account, req: Any) -> Result:
    found = []
    for ref in req.id:
        try:
            user = world.user(acc, ref)
        except RpcFailure:
            continue  # Telegram silently leaves out users it cannot resolve
        found.append(world.self_view(acc) if user.id == acc.user.id else user)
    return found


@serves(fn.contacts.ResolveUsernameRequest)
def _resolve_username(world: World, acc: Account, req: Any) -> Result:
    name = req.username.lower()
    if not valid_username(name):
        raise RpcFailure(400, "USERNAME_INVALID")
    for ch in world.channels.values():
        if (ch.username or "").lower() == name:
            return tl.contacts.ResolvedPeer(peer=tl.PeerChannel(ch.id),
                                            chats=[ch.entity_for(acc)], users=[])
    for user in world.users.values():
        if (user.username or "").lower() == name:
            shown = world.self_view(acc) if user.id == acc.user.id else user
            return tl.contacts.ResolvedPeer(peer=tl.PeerUser(user.id), chats=[], users=[shown])
    raise RpcFailure(400, "USERNAME_NOT_OCCUPIED")


@serves(fn.channels.GetChannelsRequest)
def _get_channels(world: World, acc: Account, req: Any) -> Result:
    return tl.messages.Chats(chats=[world.channel(acc, r).visible_to(acc) for r in req.id])


@serves(fn.channels.JoinChannelRequest)
def _join_channel(world: World, acc: Account, req: Any) -> Result:
    if acc.is_bot:
        raise RpcFailure(400, "BOT_METHOD_INVALID")
    ch = world.channel(acc, req.channel, read=True)  # private and not a member: CHANNEL_PRIVATE
    # Joining again is not an error on Telegram: it answers Updates without any update.
    updates = [] if ch.id in acc.channels else [tl.UpdateChannel(channel_id=ch.id)]
    acc.channels.add(ch.id)
    return make_updates(updates, chats=[ch.entity_for(acc)])


@serves(fn.channels.LeaveChannelRequest)
def _leave_channel(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel)
    if ch.id not in acc.channels:
        raise RpcFailure(400, "USER_NOT_PARTICIPANT")
    acc.channels.discard(ch.id)
    return make_updates([tl.UpdateChannel(channel_id=ch.id)], chats=[ch.visible_to(acc)])
