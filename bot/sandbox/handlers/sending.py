"""Sending and editing messages: messages.sendMessage and messages.editMessage, and the
bookkeeping media sends share (random ids, the sender's box, channel posts, SentMessage)."""

from __future__ import annotations

import copy
from typing import Any

from telethon import utils
from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import (
    Account,
    FakeChannel,
    RpcFailure,
    SentMessage,
    make_updates,
    now,
)
from bot.sandbox.handlers.common import private_messages
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World

_MESSAGE_LENGTH_MAX = 4096


def sent_message(acc: Account, peer: TLObject, req: Any, text: str, msg_id: int) -> SentMessage:
    """The record of a send or edit request in World.sent / World.edited."""
    return SentMessage(account=acc, peer_id=utils.get_peer_id(peer, add_mark=False), text=text,
                       entities=list(req.entities or []),
                       random_id=getattr(req, "random_id", 0) or 0,
                       no_webpage=bool(getattr(req, "no_webpage", False)),
                       reply_markup=req.reply_markup, msg_id=msg_id,
                       reply_to=getattr(getattr(req, "reply_to", None), "reply_to_msg_id", None),
                       peer=peer)


def claim_random_id(world: World, acc: Account, random_id: int | None) -> None:
    """Accept a random_id once per account; a repeat answers 500 RANDOM_ID_DUPLICATE."""
    if not random_id:
        return
    key = (acc.user.id, random_id)
    if key in world.random_ids:
        world.duplicate_sends += 1
        raise RpcFailure(500, "RANDOM_ID_DUPLICATE")
    world.random_ids.add(key)


def outgoing(acc: Account, peer: TLObject, req: Any) -> tl.Message:
    """The message a send request creates, before it gets its id."""
    reply = None
    if isinstance(req.reply_to, tl.InputReplyToMessage):
        reply = tl.MessageReplyHeader(reply_to_msg_id=req.reply_to.reply_to_msg_id)
    # In basic groups messages carry their sender; in private chats they do not need to.
    sender = tl.PeerUser(acc.user.id) if isinstance(peer, tl.PeerChat) else None
    return tl.Message(id=0, peer_id=peer, date=now(), message=req.message, reply_to=reply,
                      entities=req.entities or None, reply_markup=req.reply_markup,
                      from_id=sender)


def post_to_channel(world: World, acc: Account, ch: FakeChannel, msg: tl.Message,
                    random_id: int) -> tl.Updates:
    """Append the account's message to a channel/megagroup; the Updates it gets as result."""
    msg.id, msg.post = ch.top_id + 1, not ch.megagroup or None
    msg.from_id = tl.PeerUser(acc.user.id) if ch.megagroup else None
    update = world.append_channel_message(ch, msg, skip=acc)  # the sender gets it as result
    mine = copy.copy(msg)
    mine.out = True
    return make_updates([tl.UpdateMessageID(id=msg.id, random_id=random_id),
                         tl.UpdateNewChannelMessage(mine, update.pts, 1)],
                        chats=[ch.entity_for(acc)])


def own_box(world: World, acc: Account, msg: tl.Message) -> tl.UpdateNewMessage:
    """Store an outgoing private/basic-group message in the sender's own box."""
    msg.out = True
    return world.store_in_box(acc, msg)


@serves(fn.messages.SendMessageRequest)
def _send_message(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    world.check_can_send(acc, peer)
    if not req.message.strip():
        raise RpcFailure(400, "MESSAGE_EMPTY")
    if len(req.message) > _MESSAGE_LENGTH_MAX:
        raise RpcFailure(400, "MESSAGE_TOO_LONG")
    # Like Telegram, a refused send leaves its random_id unused, so a retry can deliver it.
    claim_random_id(world, acc, req.random_id)
    msg = outgoing(acc, peer, req)
    result: Result
    if isinstance(peer, tl.PeerChannel):
        result = post_to_channel(world, acc, world.channels[peer.channel_id], msg,
                                 req.random_id)
    else:
        update = own_box(world, acc, msg)
        result = tl.UpdateShortSentMessage(id=msg.id, pts=update.pts, pts_count=1,
                                           date=msg.date, out=True)
    world.sent.append(sent_message(acc, peer, req, req.message, msg.id))
    return result


@serves(fn.messages.EditMessageRequest)
def _edit_message(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    world.check_can_write(acc, peer)
    peer_id = utils.get_peer_id(peer, add_mark=False)
    versions = [s for s in world.sent + world.edited
                if s.account is acc and s.peer_id == peer_id and s.msg_id == req.id]
    if not versions:
        raise RpcFailure(400, "MESSAGE_ID_INVALID")
    last = versions[-1]
    # Without a new text the old one stays, with its entities; markup is replaced (or removed).
    text = last.text if req.message is None else req.message
    entities = last.entities if req.message is None else list(req.entities or [])
    if (text, entities, req.reply_markup) == (last.text, last.entities, last.reply_markup):
        raise RpcFailure(400, "MESSAGE_NOT_MODIFIED")
    if not text.strip() and last.photo is None and last.document is None:
        raise RpcFailure(400, "MESSAGE_EMPTY")
    if (last.photo is not None or last.document is not None) and len(text) > 1024:  # caption
        raise RpcFailure(400, "MEDIA_CAPTION_TOO_LONG")
    record = sent_message(acc, peer, req, text, req.id)
    record.entities, record.reply_to = entities, last.reply_to
    record.photo, record.document = last.photo, last.document
    record.file_name, record.mime_type = last.file_name, last.mime_type
    if isinstance(peer, tl.PeerChannel):
        ch = world.channels[peer.channel_id]
        if req.id not in ch.messages:
            raise RpcFailure(400, "MESSAGE_ID_INVALID")  # deleted meanwhile
        theirs = copy.copy(ch.messages[req.id])  # keeps date, views, sender, media...
        theirs.message, theirs.entities, theirs.edit_date = text, entities or None, now()
        theirs.reply_markup = req.reply_markup
        ch.messages[req.id] = theirs
        ch.pts += 1
        world.channel_update(ch, tl.UpdateEditChannelMessage(theirs, ch.pts, 1), skip=acc)
        world.edited.append(record)
        mine = copy.copy(theirs)
        mine.out = True
        return make_updates([tl.UpdateEditChannelMessage(mine, ch.pts, 1)],
                            chats=[ch.entity_for(acc)])
    world.edited.append(record)
    current = private_messages(acc, peer).get(req.id)
    msg = copy.copy(current) if current is not None else tl.Message(
        id=req.id, peer_id=peer, date=now(), message=text, out=True)
    msg.message, msg.entities, msg.edit_date = text, entities or None, now()
    msg.reply_markup = req.reply_markup
    acc.pts += 1
    update = tl.UpdateEditMessage(message=msg, pts=acc.pts, pts_count=1)
    acc.log.append((acc.pts, update))
    users, chats = world.entities([msg])
    return make_updates([update], users, chats)
