"""Reading messages and dialogs: messages.getHistory, channels/messages.getMessages,
messages.getPeerDialogs and messages.getDialogs."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account
from bot.sandbox.handlers.common import private_messages, with_first
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World


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


@serves(fn.messages.GetHistoryRequest)
def _get_history(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        desc = sorted(ch.messages.values(), key=lambda m: m.id, reverse=True)
        msgs = _history_slice(desc, req)
        users, chats = world.entities(msgs)
        return tl.messages.ChannelMessages(pts=ch.pts, count=len(desc), messages=msgs, topics=[],
                                           chats=with_first(chats, ch.entity_for(acc)), users=users)
    current = private_messages(acc, peer)
    msgs = _history_slice(sorted(current.values(), key=lambda m: m.id, reverse=True), req)
    users, chats = world.entities(msgs)
    return tl.messages.MessagesSlice(count=len(current), messages=msgs, topics=[], chats=chats,
                                     users=users)


@serves(fn.channels.GetMessagesRequest)
def _get_channel_messages(world: World, acc: Account, req: Any) -> Result:
    ch = world.channel(acc, req.channel, read=True)
    ids = [getattr(ref, "id", 0) for ref in req.id]  # only InputMessageID is scripted
    msgs = [ch.messages.get(i) or tl.MessageEmpty(id=i, peer_id=tl.PeerChannel(ch.id))
            for i in ids]
    users, chats = world.entities([m for m in msgs if isinstance(m, tl.Message)])
    return tl.messages.ChannelMessages(pts=ch.pts, count=len(ch.messages), messages=msgs,
                                       topics=[], chats=with_first(chats, ch.entity_for(acc)),
                                       users=users)


@serves(fn.messages.GetMessagesRequest)
def _get_messages(world: World, acc: Account, req: Any) -> Result:
    # Private-chat and basic-group messages share the account's own id space.
    current: dict[int, Any] = {}
    for _, update in acc.log:
        msg = getattr(update, "message", None)
        if msg is not None:
            current[msg.id] = msg
    ids = [getattr(ref, "id", 0) for ref in req.id]  # only InputMessageID is scripted
    msgs = [current.get(i) or tl.MessageEmpty(id=i) for i in ids]
    users, chats = world.entities([m for m in msgs if not isinstance(m, tl.MessageEmpty)])
    return tl.messages.Messages(messages=msgs, topics=[], chats=chats, users=users)


def _dialog(world: World, acc: Account, peer: TLObject) -> tuple[tl.Dialog, Any]:
    pts = None
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        messages, pts = ch.messages, ch.pts
    else:
        messages = private_messages(acc, peer)
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
        elif isinstance(peer, tl.PeerChat) and peer.chat_id not in {c.id for c in chats}:
            chats.append(world.groups[peer.chat_id].entity_for(acc))
    return [d for d, _ in pairs], tops, chats, users


@serves(fn.messages.GetPeerDialogsRequest)
def _get_peer_dialogs(world: World, acc: Account, req: Any) -> Result:
    peers = [world.peer(acc, p.peer) for p in req.peers]
    dialogs, tops, chats, users = _dialogs(world, acc, peers)
    return tl.messages.PeerDialogs(dialogs=dialogs, messages=tops, chats=chats, users=users,
                                   state=world.state(acc))


@serves(fn.messages.GetDialogsRequest)
def _get_dialogs(world: World, acc: Account, req: Any) -> Result:
    # Everything in one answer: Telethon stops paging on messages.Dialogs (not DialogsSlice).
    peers: list[TLObject] = [tl.PeerChannel(c) for c in sorted(acc.channels)]
    peers += [tl.PeerChat(c) for c in sorted(acc.chats)]
    peers += list({u.message.peer_id.user_id: u.message.peer_id for _, u in acc.log
                   if isinstance(getattr(u, "message", None), tl.Message)
                   and isinstance(u.message.peer_id, tl.PeerUser)}.values())
    dialogs, tops, chats, users = _dialogs(world, acc, peers)
    return tl.messages.Dialogs(dialogs=dialogs, messages=tops, chats=chats, users=users)
