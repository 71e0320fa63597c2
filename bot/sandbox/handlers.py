"""How the fake Telegram answers each scripted RPC request, on top of the World's state."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import secrets
import struct
from collections.abc import Callable
from typing import Any, TypeAlias

from telethon import utils
from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox import srp
from bot.sandbox.world import (
    Account,
    FakeChannel,
    FakeGroup,
    LoginCode,
    RpcFailure,
    SentMessage,
    World,
    access_hash,
    admin_rights,
    make_updates,
    now,
    valid_username,
)

Result: TypeAlias = "TLObject | list[Any] | bool"  # a TL object, a Vector or a Bool
Handler: TypeAlias = Callable[[World, Account, Any], Result]
_HANDLERS: dict[type, Handler] = {}
# What Telethon sends before it is logged in: connect (getConfig), bot and user sign-in.
_PRE_AUTH = (fn.help.GetConfigRequest, fn.auth.ImportBotAuthorizationRequest,
             fn.auth.SendCodeRequest, fn.auth.SignInRequest, fn.account.GetPasswordRequest,
             fn.auth.CheckPasswordRequest)
_MESSAGE_LENGTH_MAX = 4096
_CAPTION_LENGTH_MAX = 1024
# Requests that World.fail_sends can make fail for one peer.
_SENDS = (fn.messages.SendMessageRequest, fn.messages.SendMediaRequest,
          fn.messages.EditMessageRequest)
_FILE_PARTS_MAX = 4000  # Telegram's limit on parts per uploaded file
_PART_SIZE_MAX = 512 * 1024
# Signatures of the image formats Telegram accepts as photos (it re-encodes them to JPEG).
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def _serves(*classes: type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for cls in classes:
            _HANDLERS[cls] = handler
        return handler
    return register


def answer(world: World, acc: Account, req: TLObject) -> Result | tl.RpcError:
    """Answer one unwrapped request: injected error, 401, scripted result or FAKE_UNSCRIPTED."""
    injected = _take_injected_error(world, req) or world.take_channel_failure(req)
    if injected is None and isinstance(req, _SENDS):
        injected = world.take_send_failure(_addressed_id(acc, req.peer))
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


def _addressed_id(acc: Account, ref: Any) -> int | None:
    """The unmarked id of the user, chat or channel an input peer names (not validated)."""
    if isinstance(ref, tl.InputPeerSelf):
        return int(acc.user.id)
    for attr in ("user_id", "chat_id", "channel_id"):
        value = getattr(ref, attr, None)
        if isinstance(value, int):
            return value
    return None


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


# --- Signing a user account in (see World.add_account): phone, code, two-step password.
def _refuse(world: World, code: int, message: str) -> RpcFailure:
    """An error a sign-in handler answers, recorded in World.login_failures."""
    world.login_failures.append(message)
    return RpcFailure(code, message)


def _authorized(world: World, acc: Account) -> tl.auth.Authorization:
    acc.logged_in, acc.awaiting_password, acc.srp_challenge = True, False, None
    return tl.auth.Authorization(user=world.self_view(acc))


@_serves(fn.auth.SendCodeRequest)
def _send_code(world: World, acc: Account, req: Any) -> Result:
    phone = re.sub(r"\D", "", req.phone_number)
    if acc.is_bot or acc.phone is None or phone != acc.phone:
        raise _refuse(world, 400, "PHONE_NUMBER_INVALID")
    for old in world.login_codes:  # as on Telegram, a new code makes earlier ones useless
        if old.account is acc:
            old.expired = True
    sent = LoginCode(account=acc, phone=phone, phone_code_hash=secrets.token_hex(9),
                     code=f"{secrets.randbelow(100_000):05d}")
    world.login_codes.append(sent)
    return tl.auth.SentCode(type=tl.auth.SentCodeTypeApp(length=len(sent.code)),
                            phone_code_hash=sent.phone_code_hash)


@_serves(fn.auth.SignInRequest)
def _sign_in(world: World, acc: Account, req: Any) -> Result:
    sent = next((c for c in world.login_codes if c.phone_code_hash == req.phone_code_hash), None)
    if sent is None or sent.account is not acc or sent.expired:
        raise _refuse(world, 400, "PHONE_CODE_EXPIRED")
    if sent.phone != re.sub(r"\D", "", req.phone_number):
        raise _refuse(world, 400, "PHONE_NUMBER_INVALID")
    if not req.phone_code:
        raise _refuse(world, 400, "PHONE_CODE_EMPTY")
    if req.phone_code != sent.code:
        raise _refuse(world, 400, "PHONE_CODE_INVALID")
    sent.expired = True  # a code signs in once
    if acc.two_step is not None:
        acc.awaiting_password = True
        raise _refuse(world, 401, "SESSION_PASSWORD_NEEDED")
    return _authorized(world, acc)


def _new_algo() -> tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
    """The algorithm (and server half of salt1) a client would set a new password with."""
    return tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=os.urandom(8), salt2=os.urandom(16), g=srp.G, p=srp.pad(srp.P))


@_serves(fn.account.GetPasswordRequest)
def _get_password(world: World, acc: Account, req: Any) -> Result:
    if not (acc.logged_in or acc.awaiting_password):
        raise RpcFailure(401, "AUTH_KEY_UNREGISTERED")
    common = {"new_algo": _new_algo(), "new_secure_algo": tl.SecurePasswordKdfAlgoSHA512(
        salt=os.urandom(8)), "secure_random": os.urandom(256)}
    if acc.two_step is None:
        return tl.account.Password(has_password=False, **common)
    # Each answer is a fresh SRP challenge; only the latest one can be answered, once.
    acc.srp_challenge = challenge = acc.two_step.challenge()
    algo = tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=acc.two_step.salt1, salt2=acc.two_step.salt2, g=srp.G, p=srp.pad(srp.P))
    return tl.account.Password(has_password=True, current_algo=algo, srp_B=srp.pad(challenge.B),
                               srp_id=challenge.srp_id, **common)


@_serves(fn.auth.CheckPasswordRequest)
def _check_password(world: World, acc: Account, req: Any) -> Result:
    if not acc.awaiting_password or acc.two_step is None:
        raise _refuse(world, 401, "AUTH_KEY_UNREGISTERED")
    check, challenge, acc.srp_challenge = req.password, acc.srp_challenge, None
    if (not isinstance(check, tl.InputCheckPasswordSRP) or challenge is None
            or check.srp_id != challenge.srp_id):
        raise _refuse(world, 400, "SRP_ID_INVALID")
    if not acc.two_step.verify(challenge, check.A, check.M1):
        raise _refuse(world, 400, "PASSWORD_HASH_INVALID")
    return _authorized(world, acc)


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


@_serves(fn.channels.GetChannelsRequest)
def _get_channels(world: World, acc: Account, req: Any) -> Result:
    return tl.messages.Chats(chats=[world.channel(acc, r).visible_to(acc) for r in req.id])


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
    return make_updates([tl.UpdateChannel(channel_id=ch.id)], chats=[ch.visible_to(acc)])


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


@_serves(fn.messages.GetMessagesRequest)
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
        elif isinstance(peer, tl.PeerChat) and peer.chat_id not in {c.id for c in chats}:
            chats.append(world.groups[peer.chat_id].entity_for(acc))
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
                       no_webpage=bool(getattr(req, "no_webpage", False)),
                       reply_markup=req.reply_markup, msg_id=msg_id,
                       reply_to=getattr(getattr(req, "reply_to", None), "reply_to_msg_id", None),
                       peer=peer)


def _claim_random_id(world: World, acc: Account, random_id: int | None) -> None:
    """Accept a random_id once per account; a repeat answers 500 RANDOM_ID_DUPLICATE."""
    if not random_id:
        return
    key = (acc.user.id, random_id)
    if key in world.random_ids:
        world.duplicate_sends += 1
        raise RpcFailure(500, "RANDOM_ID_DUPLICATE")
    world.random_ids.add(key)


def _outgoing(acc: Account, peer: TLObject, req: Any) -> tl.Message:
    """The message a send request creates, before it gets its id."""
    reply = None
    if isinstance(req.reply_to, tl.InputReplyToMessage):
        reply = tl.MessageReplyHeader(reply_to_msg_id=req.reply_to.reply_to_msg_id)
    # In basic groups messages carry their sender; in private chats they do not need to.
    sender = tl.PeerUser(acc.user.id) if isinstance(peer, tl.PeerChat) else None
    return tl.Message(id=0, peer_id=peer, date=now(), message=req.message, reply_to=reply,
                      entities=req.entities or None, reply_markup=req.reply_markup,
                      from_id=sender)


def _post_to_channel(world: World, acc: Account, ch: FakeChannel, msg: tl.Message,
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


def _own_box(world: World, acc: Account, msg: tl.Message) -> tl.UpdateNewMessage:
    """Store an outgoing private/basic-group message in the sender's own box."""
    msg.out = True
    return world.store_in_box(acc, msg)


@_serves(fn.messages.SendMessageRequest)
def _send_message(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    world.check_can_send(acc, peer)
    if not req.message.strip():
        raise RpcFailure(400, "MESSAGE_EMPTY")
    if len(req.message) > _MESSAGE_LENGTH_MAX:
        raise RpcFailure(400, "MESSAGE_TOO_LONG")
    # Like Telegram, a refused send leaves its random_id unused, so a retry can deliver it.
    _claim_random_id(world, acc, req.random_id)
    msg = _outgoing(acc, peer, req)
    result: Result
    if isinstance(peer, tl.PeerChannel):
        result = _post_to_channel(world, acc, world.channels[peer.channel_id], msg,
                                  req.random_id)
    else:
        update = _own_box(world, acc, msg)
        result = tl.UpdateShortSentMessage(id=msg.id, pts=update.pts, pts_count=1,
                                           date=msg.date, out=True)
    world.sent.append(_record(acc, peer, req, req.message, msg.id))
    return result


@_serves(fn.upload.SaveFilePartRequest, fn.upload.SaveBigFilePartRequest)
def _save_file_part(world: World, acc: Account, req: Any) -> Result:
    total = getattr(req, "file_total_parts", None)  # only in SaveBigFilePart
    if total is not None and not 0 < total <= _FILE_PARTS_MAX:
        raise RpcFailure(400, "FILE_PARTS_INVALID")
    if not 0 <= req.file_part < (total or _FILE_PARTS_MAX):
        raise RpcFailure(400, "FILE_PART_INVALID")
    if not req.bytes:
        raise RpcFailure(400, "FILE_PART_EMPTY")
    if len(req.bytes) > _PART_SIZE_MAX:
        raise RpcFailure(400, "FILE_PART_TOO_BIG")
    world.uploads.setdefault((acc.user.id, req.file_id), {})[req.file_part] = req.bytes
    return True


def _uploaded(world: World, acc: Account, file: Any) -> bytes:
    """Reassemble an InputFile/InputFileBig from the parts the account uploaded."""
    if not isinstance(file, tl.InputFile | tl.InputFileBig):
        raise RpcFailure(400, "FAKE_UNSCRIPTED_INPUT_FILE")
    if not 0 < file.parts <= _FILE_PARTS_MAX:
        raise RpcFailure(400, "FILE_PARTS_INVALID")
    parts = world.uploads.get((acc.user.id, file.id), {})
    missing = next((i for i in range(file.parts) if i not in parts), None)
    if missing is not None:
        raise RpcFailure(400, f"FILE_PART_{missing}_MISSING")
    data = b"".join(parts[i] for i in range(file.parts))
    if (isinstance(file, tl.InputFile) and file.md5_checksum
            and hashlib.md5(data, usedforsecurity=False).hexdigest() != file.md5_checksum):
        raise RpcFailure(400, "MD5_CHECKSUM_INVALID")
    return data


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; (0, 0) for other formats."""
    if data.startswith(_IMAGE_MAGIC[0]) and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


def _sent_media(world: World, acc: Account, req: Any) -> tuple[TLObject, dict[str, Any]]:
    """The MessageMedia for an uploaded photo/document and what SentMessage records of it."""
    media = req.media
    world.media_seq += 1
    media_id = acc.user.id * 1_000_000 + world.media_seq
    if isinstance(media, tl.InputMediaUploadedPhoto):
        data = _uploaded(world, acc, media.file)
        if not data.startswith(_IMAGE_MAGIC) and data[8:12] != b"WEBP":
            raise RpcFailure(400, "IMAGE_PROCESS_FAILED")
        width, height = _png_size(data)
        photo = tl.Photo(id=media_id, access_hash=access_hash(media_id), file_reference=b"\x01",
                         date=now(), dc_id=2,
                         sizes=[tl.PhotoSize(type="x", w=width, h=height, size=len(data))])
        return tl.MessageMediaPhoto(photo=photo), {"photo": data}
    if isinstance(media, tl.InputMediaUploadedDocument):
        data = _uploaded(world, acc, media.file)
        name = next((a.file_name for a in media.attributes
                     if isinstance(a, tl.DocumentAttributeFilename)), None)
        document = tl.Document(id=media_id, access_hash=access_hash(media_id),
                               file_reference=b"\x01", date=now(), mime_type=media.mime_type,
                               size=len(data), dc_id=2, attributes=list(media.attributes))
        return tl.MessageMediaDocument(document=document), {
            "document": data, "file_name": name, "mime_type": media.mime_type}
    world.unscripted.append(req)
    raise RpcFailure(400, f"FAKE_UNSCRIPTED_MEDIA_{type(media).__name__.upper()}")


@_serves(fn.messages.SendMediaRequest)
def _send_media(world: World, acc: Account, req: Any) -> Result:
    peer = world.peer(acc, req.peer)
    world.check_can_send(acc, peer)
    if len(req.message) > _CAPTION_LENGTH_MAX:
        raise RpcFailure(400, "MEDIA_CAPTION_TOO_LONG")
    media, recorded = _sent_media(world, acc, req)
    _claim_random_id(world, acc, req.random_id)
    msg = _outgoing(acc, peer, req)
    msg.media = media
    result: Result
    if isinstance(peer, tl.PeerChannel):
        result = _post_to_channel(world, acc, world.channels[peer.channel_id], msg,
                                  req.random_id)
    else:
        update = _own_box(world, acc, msg)
        users, chats = world.entities([msg])
        result = make_updates([tl.UpdateMessageID(id=msg.id, random_id=req.random_id), update],
                              [world.self_view(acc), *users], chats)
    sent = _record(acc, peer, req, req.message, msg.id)
    for name, value in recorded.items():
        setattr(sent, name, value)
    world.sent.append(sent)
    return result


@_serves(fn.messages.EditMessageRequest)
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
    record = _record(acc, peer, req, text, req.id)
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
    current = _private_messages(acc, peer).get(req.id)
    msg = copy.copy(current) if current is not None else tl.Message(
        id=req.id, peer_id=peer, date=now(), message=text, out=True)
    msg.message, msg.entities, msg.edit_date = text, entities or None, now()
    msg.reply_markup = req.reply_markup
    acc.pts += 1
    update = tl.UpdateEditMessage(message=msg, pts=acc.pts, pts_count=1)
    acc.log.append((acc.pts, update))
    users, chats = world.entities([msg])
    return make_updates([update], users, chats)


@_serves(fn.messages.GetChatsRequest)
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


@_serves(fn.messages.GetFullChatRequest)
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


@_serves(fn.channels.GetParticipantRequest)
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
