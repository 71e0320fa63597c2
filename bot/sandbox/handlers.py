"""How the fake Telegram answers each scripted RPC request, on top of the World's state."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeAlias

from telethon import utils
from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.world import (
    Account,
    FakeChannel,
    RpcFailure,
    SentMessage,
    World,
    make_updates,
    now,
    valid_username,
)

Result: TypeAlias = "TLObject | list[Any] | bool"  # a TL object, a Vector or a Bool
Handler: TypeAlias = Callable[[World, Account, Any], Result]
_HANDLERS: dict[type, Handler] = {}
# What Telethon sends before it is logged in: connect (getConfig) and bot sign-in.
_PRE_AUTH = (fn.help.GetConfigRequest, fn.auth.ImportBotAuthorizationRequest)
_MESSAGE_LENGTH_MAX = 4096


def _serves(*classes: type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for cls in classes:
            _HANDLERS[cls] = handler
        return handler
    return register


def answer(world: World, acc: Account, req: TLObject) -> Result | tl.RpcError:
    """Answer one unwrapped request: injected error, 401, scripted result or FAKE_UNSCRIPTED."""
    injected = _take_injected_error(world, req)
    if injected is not None:
        return injected
    if not acc.logged_in and not isinstance(req, _PRE_AUTH):
        return tl.RpcError(error_code=401, error_message="AUTH_KEY_UNREGISTERED")
    handler = _HANDLERS.get(type(req))
    if handler is None:
        world.unscripted.append(req)
        namespace = type(req).__module__.rsplit(".", 1)[-1]  # e.g. "channels"
        name = type(req).__name__.removesuffix("Request")
        label = name if namespace == "functions" else f"{namespace}_{name}"
        return tl.RpcError(error_code=400, error_message=f"FAKE_UNSCRIPTED_{label.upper()}")
    try:
        return handler(world, acc, req)
    except RpcFailure as failure:
        return failure.error


def _take_injected_error(world: World, req: TLObject) -> tl.RpcError | None:
    queued = world.rpc_errors.get(type(req))
    if isinstance(queued, list):  # several one-shot errors, answered in order
        error = queued.pop(0) if queued else None
        if not queued:
            del world.rpc_errors[type(req)]
        return error
    return world.rpc_errors.pop(type(req), None)


def _history_slice(desc: list[Any], req: Any) -> list[Any]:
    """messages.getHistory windowing over messages sorted by descending id."""
    if req.max_id:
        desc = [m for m in desc if m.id < req.max_id]
    if req.min_id:
        desc = [m for m in desc if m.id > req.min_id]
    start = 0
    if req.offset_id:  # offset_id wins over offset_date, as on Telegram
        start = next((i for i, m in enumerate(desc) if m.id < req.offset_id), len(desc))
    elif req.offset_date and req.offset_date.timestamp() > 0:  # "no date" arrives as the epoch
        start = next((i for i, m in enumerate(desc) if m.date < req.offset_date), len(desc))
    start += req.add_offset  # a negative add_offset reaches newer messages (reverse iteration)
    end = start + min(max(req.limit, 0), 100)
    return desc[max(start, 0):max(end, 0)]


def _split(entries: list[TLObject]) -> tuple[list[TLObject], list[TLObject]]:
    """Split logged updates into getDifference's new_messages and other_updates."""
    new_types = (tl.UpdateNewMessage, tl.UpdateNewChannelMessage)
    return ([u.message for u in entries if isinstance(u, new_types)],
            [u for u in entries if not isinstance(u, new_types)])


def _private_messages(acc: Account, peer: TLObject) -> dict[int, Any]:
    """Current versions (edits applied) of the account's messages with `peer`."""
    current: dict[int, Any] = {}
    for _, update in acc.log:
        msg = getattr(update, "message", None)
        if msg is not None and msg.peer_id == peer:
            current[msg.id] = msg
    return current


def _with(chats: list[TLObject], first: TLObject) -> list[TLObject]:
    return [first, *(c for c in chats if c.id != first.id)]


@_serves(fn.help.GetConfigRequest)
def _get_config(world: World, acc: Account, req: Any) -> Result:
    if world.config is None:
        raise RpcFailure(500, "FAKE_NO_CONFIG")
    return world.config


@_serves(fn.auth.ImportBotAuthorizationRequest)
def _import_bot_authorization(world: World, acc: Account, req: Any) -> Result:
    if acc.bot_token is None or req.bot_auth_token != acc.bot_token:
        raise RpcFailure(400, "ACCESS_TOKEN_INVALID")
    acc.logged_in = True
    return tl.auth.Authorization(user=world.self_view(acc))


@_serves(fn.users.GetUsersRequest)
def _get_users(world: World, acc: Account, req: Any) -> Result:
    found = []
    for ref in req.id:
        try:
            user = world.user(acc, ref)
        except RpcFailure:
            continue  # Telegram silently leaves out users it cannot resolve
        found.append(world.self_view(acc) if user.id == acc.user.id else user)
    return found


@_serves(fn.updates.GetStateRequest)
def _get_state(world: World, acc: Account, req: Any) -> Result:
    return world.state(acc)


@_serves(fn.updates.GetDifferenceRequest)
def _get_difference(world: World, acc: Account, req: Any) -> Result:
    new, other = _split([u for pts, u in acc.log if pts > req.pts])
    if not new and not other:
        return tl.updates.DifferenceEmpty(date=now(), seq=0)
    users, chats = world.entities(new + [u.message for u in other if hasattr(u, "message")])
    return tl.updates.Difference(new_messages=new, new_encrypted_messages=[], other_updates=other,
                                 chats=chats, users=users, state=world.state(acc))


@_serves(fn.updates.GetChannelDifferenceRequest)
def _get_channel_difference(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel, read=True)
    later = [(pts, u) for pts, u in ch.log if pts > req.pts]
    if not later:
        return tl.updates.ChannelDifferenceEmpty(pts=ch.pts, final=True)
    page = later[:max(req.limit, 1)]  # Telethon asks users for 100 at a time, then continues
    new, other = _split([u for _, u in page])
    users, chats = world.entities(new)
    return tl.updates.ChannelDifference(
        pts=page[-1][0], final=len(page) == len(later), new_messages=new, other_updates=other,
        chats=_with(chats, ch.entity_for(acc)), users=users)


@_serves(fn.contacts.ResolveUsernameRequest)
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


def _visible_chat(acc: Account, ch: FakeChannel) -> TLObject:
    if ch.private and ch.id not in acc.channels:
        return tl.ChannelForbidden(id=ch.id, access_hash=ch.entity.access_hash, title=ch.title,
                                   broadcast=not ch.megagroup or None, megagroup=ch.megagroup)
    return ch.entity_for(acc)


@_serves(fn.channels.GetChannelsRequest)
def _get_channels(world: World, acc: Account, req: Any) -> Result:
    return tl.messages.Chats(chats=[_visible_chat(acc, world.channel(acc, r)) for r in req.id])


@_serves(fn.channels.JoinChannelRequest)
def _join_channel(world: World, acc: Account, req: Any) -> Result:
    if acc.is_bot:
        raise RpcFailure(400, "BOT_METHOD_INVALID")
    ch = world.channel(acc, req.channel, read=True)  # private and not a member: CHANNEL_PRIVATE
    # Joining again is not an error on Telegram: it answers Updates without any update.
    updates = [] if ch.id in acc.channels else [tl.UpdateChannel(channel_id=ch.id)]
    acc.channels.add(ch.id)
    return make_updates(updates, chats=[ch.entity_for(acc)])


@_serves(fn.channels.LeaveChannelRequest)
def _leave_channel(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel)
    if ch.id not in acc.channels:
        raise RpcFailure(400, "USER_NOT_PARTICIPANT")
    acc.channels.discard(ch.id)
    return make_updates([tl.UpdateChannel(channel_id=ch.id)], chats=[_visible_chat(acc, ch)])


@_serves(fn.messages.GetHistoryRequest)
def _get_history(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        desc = sorted(ch.messages.values(), key=lambda m: m.id, reverse=True)
        msgs = _history_slice(desc, req)
        users, chats = world.entities(msgs)
        return tl.messages.ChannelMessages(pts=ch.pts, count=len(desc), messages=msgs, topics=[],
                                           chats=_with(chats, ch.entity_for(acc)), users=users)
    current = _private_messages(acc, peer)
    msgs = _history_slice(sorted(current.values(), key=lambda m: m.id, reverse=True), req)
    users, chats = world.entities(msgs)
    return tl.messages.MessagesSlice(count=len(current), messages=msgs, topics=[], chats=chats,
                                     users=users)


@_serves(fn.channels.GetMessagesRequest)
def _get_channel_messages(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel, read=True)
    ids = [getattr(ref, "id", 0) for ref in req.id]  # only InputMessageID is scripted
    msgs = [ch.messages.get(i) or tl.MessageEmpty(id=i, peer_id=tl.PeerChannel(ch.id))
            for i in ids]
    users, chats = world.entities([m for m in msgs if isinstance(m, tl.Message)])
    return tl.messages.ChannelMessages(pts=ch.pts, count=len(ch.messages), messages=msgs,
                                       topics=[], chats=_with(chats, ch.entity_for(acc)),
                                       users=users)


def _dialog(world: World, acc: Account, peer: TLObject) -> tuple[tl.Dialog, Any]:
    pts = None
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        messages, pts = ch.messages, ch.pts
    else:
        messages = _private_messages(acc, peer)
    top = messages[max(messages)] if messages else None
    dialog = tl.Dialog(peer=peer, top_message=top.id if top else 0, read_inbox_max_id=0,
                       read_outbox_max_id=0, unread_count=0, unread_mentions_count=0,
                       unread_reactions_count=0, unread_poll_votes_count=0,
                       notify_settings=tl.PeerNotifySettings(), pts=pts)
    return dialog, top


def _dialogs(world: World, acc: Account, peers: list[TLObject]) -> tuple[list[Any], ...]:
    pairs = [_dialog(world, acc, peer) for peer in peers]
    tops = [top for _, top in pairs if top is not None]
    users, chats = world.entities(tops)
    for peer in peers:  # dialogs without messages still need their entity
        if isinstance(peer, tl.PeerChannel) and peer.channel_id not in {c.id for c in chats}:
            chats.append(world.channels[peer.channel_id].entity_for(acc))
    return [d for d, _ in pairs], tops, chats, users


@_serves(fn.messages.GetPeerDialogsRequest)
def _get_peer_dialogs(world: World, acc: Account, req: Any) -> Result:
    peers = [world.peer(acc, p.peer) for p in req.peers]
    dialogs, tops, chats, users = _dialogs(world, acc, peers)
    return tl.messages.PeerDialogs(dialogs=dialogs, messages=tops, chats=chats, users=users,
                                   state=world.state(acc))


@_serves(fn.messages.GetDialogsRequest)
def _get_dialogs(world: World, acc: Account, req: Any) -> Result:
    # Everything in one answer: Telethon stops paging on messages.Dialogs (not DialogsSlice).
    peers: list[TLObject] = [tl.PeerChannel(c) for c in sorted(acc.channels)]
    peers += [tl.PeerChat(c) for c in sorted(acc.chats)]
    peers += list({u.message.peer_id.user_id: u.message.peer_id for _, u in acc.log
                   if isinstance(getattr(u, "message", None), tl.Message)
                   and isinstance(u.message.peer_id, tl.PeerUser)}.values())
    dialogs, tops, chats, users = _dialogs(world, acc, peers)
    return tl.messages.Dialogs(dialogs=dialogs, messages=tops, chats=chats, users=users)


def _record(acc: Account, peer: TLObject, req: Any, text: str, msg_id: int) -> SentMessage:
    return SentMessage(account=acc, peer_id=utils.get_peer_id(peer, add_mark=False), text=text,
                       entities=list(req.entities or []),
                       random_id=getattr(req, "random_id", 0) or 0,
                       no_webpage=bool(req.no_webpage), reply_markup=req.reply_markup,
                       msg_id=msg_id, reply_to=getattr(getattr(req, "reply_to", None),
                                                       "reply_to_msg_id", None))


@_serves(fn.messages.SendMessageRequest)
def _send_message(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    if req.random_id:
        key = (acc.user.id, req.random_id)
        if key in world.random_ids:
            world.duplicate_sends += 1
            raise RpcFailure(500, "RANDOM_ID_DUPLICATE")
        world.random_ids.add(key)
    if not req.message.strip():
        raise RpcFailure(400, "MESSAGE_EMPTY")
    if len(req.message) > _MESSAGE_LENGTH_MAX:
        raise RpcFailure(400, "MESSAGE_TOO_LONG")
    reply = None
    if isinstance(req.reply_to, tl.InputReplyToMessage):
        reply = tl.MessageReplyHeader(reply_to_msg_id=req.reply_to.reply_to_msg_id)
    msg = tl.Message(id=0, peer_id=peer, date=now(), message=req.message, reply_to=reply,
                     entities=req.entities or None)
    result: Result
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        if ch.id not in acc.channels:
            raise RpcFailure(403, "CHAT_WRITE_FORBIDDEN")
        msg.id, msg.post = ch.top_id + 1, not ch.megagroup or None
        msg.from_id = tl.PeerUser(acc.user.id) if ch.megagroup else None
        update = world.append_channel_message(ch, msg, skip=acc)  # the sender gets it as result
        mine = copy.copy(msg)
        mine.out = True
        result = make_updates([tl.UpdateMessageID(id=msg.id, random_id=req.random_id),
                               tl.UpdateNewChannelMessage(mine, update.pts, 1)],
                              chats=[ch.entity_for(acc)])
    else:
        acc.pts += 1
        acc.last_msg_id += 1
        msg.id, msg.out = acc.last_msg_id, True
        acc.log.append((acc.pts, tl.UpdateNewMessage(message=msg, pts=acc.pts, pts_count=1)))
        result = tl.UpdateShortSentMessage(id=msg.id, pts=acc.pts, pts_count=1, date=msg.date,
                                           out=True)
    world.sent.append(_record(acc, peer, req, req.message, msg.id))
    return result


@_serves(fn.messages.EditMessageRequest)
def _edit_message(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    peer_id = utils.get_peer_id(peer, add_mark=False)
    versions = [s for s in world.sent + world.edited
                if s.account is acc and s.peer_id == peer_id and s.msg_id == req.id]
    if not versions:
        raise RpcFailure(400, "MESSAGE_ID_INVALID")
    last = versions[-1]
    text = last.text if req.message is None else req.message
    if text == last.text and list(req.entities or []) == last.entities and not req.reply_markup:
        raise RpcFailure(400, "MESSAGE_NOT_MODIFIED")
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        if req.id not in ch.messages:
            raise RpcFailure(400, "MESSAGE_ID_INVALID")  # deleted meanwhile
        theirs = copy.copy(ch.messages[req.id])  # keeps date, views, sender...
        theirs.message, theirs.entities, theirs.edit_date = text, req.entities or None, now()
        ch.messages[req.id] = theirs
        ch.pts += 1
        world.channel_update(ch, tl.UpdateEditChannelMessage(theirs, ch.pts, 1), skip=acc)
        world.edited.append(_record(acc, peer, req, text, req.id))
        mine = copy.copy(theirs)
        mine.out = True
        return make_updates([tl.UpdateEditChannelMessage(mine, ch.pts, 1)],
                            chats=[ch.entity_for(acc)])
    world.edited.append(_record(acc, peer, req, text, req.id))
    msg = tl.Message(id=req.id, peer_id=peer, date=now(), message=text, out=True,
                     entities=req.entities or None, edit_date=now())
    acc.pts += 1
    update = tl.UpdateEditMessage(message=msg, pts=acc.pts, pts_count=1)
    acc.log.append((acc.pts, update))
    users, chats = world.entities([msg])
    return make_updates([update], users, chats)


@_serves(fn.bots.SetBotCommandsRequest)
def _set_bot_commands(world: World, acc: Account, req: Any) -> Result:
    if not acc.is_bot:
        raise RpcFailure(400, "USER_BOT_REQUIRED")
    world.bot_commands = list(req.commands)
    return True


@_serves(fn.messages.SetTypingRequest)
def _set_typing(world: World, acc: Account, req: Any) -> Result:
    world.peer(acc, req.peer)
    return True


@_serves(fn.messages.SetBotCallbackAnswerRequest)
def _set_bot_callback_answer(world: World, acc: Account, req: Any) -> Result:
    if not acc.is_bot:
        raise RpcFailure(400, "USER_BOT_REQUIRED")
    if not 0 < req.query_id <= world.callback_queries:
        raise RpcFailure(400, "QUERY_ID_INVALID")
    world.callback_answers.append(req)
    return True
