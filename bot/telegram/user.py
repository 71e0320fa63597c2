"""The user account: receives channel posts, edits and deletions live; reads history."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from telethon import TelegramClient, errors, events
from telethon.tl import functions, types

from bot.models import Channel, ChannelStatus, Post
from bot.services.ports import (
    AccountUnavailable,
    ChannelLimitError,
    ChannelLookupError,
    ChannelReadFailed,
    ChannelTop,
    ChannelTrouble,
    ChannelUnavailable,
    ResolvedChannel,
)
from bot.services.watch import WatchedChannels
from bot.telegram.clients import NotLoggedIn
from bot.telegram.convert import message_to_post

log = logging.getLogger(__name__)
T = TypeVar("T")
PEER_DIALOGS_BATCH = 100  # messages.getPeerDialogs takes up to 100 peers
FLOOD_MARGIN = 1.0  # seconds added to every flood wait


class UserGateway:
    """Wraps the user client; implements ``ChannelDirectory`` and ``HistorySource``."""

    def __init__(
        self, client: TelegramClient, watched: WatchedChannels,
        on_post: Callable[[Post], Awaitable[Any]],
        on_edit: Callable[[Post], Awaitable[Any]] | None = None,
        on_delete: Callable[[int, list[int]], Awaitable[Any]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self._watched = watched
        self._on_post = on_post
        self._on_edit = on_edit
        self._on_delete = on_delete
        self._sleep = sleep
        self.flood_waits = 0
        # Pause between history pages of long fetches: getHistory floods after ~10 rapid calls.
        self.history_pause = 0.5

    async def start(self) -> None:
        """Connect, insist on an authorised session, and start receiving posts."""
        await self.client.connect()
        if not await self.client.is_user_authorized():
            raise NotLoggedIn("the user session is not logged in")
        me = await self.client.get_me()
        if getattr(me, "bot", False):
            raise NotLoggedIn("user.session belongs to a bot; log in with a user account")
        self.client.add_event_handler(self.on_new_message, events.NewMessage(incoming=True))
        self.client.add_event_handler(self.on_edited, events.MessageEdited(incoming=True))
        self.client.add_event_handler(self.on_deleted, events.MessageDeleted())

    def _watched_post(self, message: Any) -> Post | None:
        peer = message.peer_id
        if not isinstance(peer, types.PeerChannel) or peer.channel_id not in self._watched:
            return None
        return message_to_post(message, self._watched.username(peer.channel_id))

    async def on_new_message(self, event: Any) -> None:
        """Live handler: convert a watched channel's message and hand it to ingestion."""
        post = self._watched_post(event.message)
        if post is None:
            return
        try:
            await self._on_post(post)
        except Exception:
            # Logged once here; the post is not lost: the cursor stays below it, so the
            # next reconcile fetches it again.
            log.exception("failed to process post %d of channel %d; the reconciler will"
                          " fetch it again", post.message_id, post.channel_id)

    async def on_edited(self, event: Any) -> None:
        """Live handler for edits of watched channels' posts."""
        post = self._watched_post(event.message)
        if post is None or self._on_edit is None:
            return
        try:
            await self._on_edit(post)
        except Exception:
            log.exception("failed to record the edit of post %d of channel %d",
                          post.message_id, post.channel_id)

    async def on_deleted(self, event: Any) -> None:
        """Live handler for deletions (Telegram names the channel for channel deletions)."""
        channel_id = getattr(event.original_update, "channel_id", None)
        if channel_id is None or channel_id not in self._watched or self._on_delete is None:
            return
        try:
            await self._on_delete(channel_id, list(event.deleted_ids))
        except Exception:
            log.exception("failed to record deletions in channel %d", channel_id)

    # ---------------------------------------------------------------- flood waits
    async def _wait_out(self, exc: errors.FloodWaitError, doing: str) -> None:
        """Sleep out one flood wait (only this account's reads pause) and count it."""
        self.flood_waits += 1
        log.warning("flood wait %ds %s; waiting", exc.seconds, doing)
        await self._sleep(exc.seconds + FLOOD_MARGIN)

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a request, waiting out flood waits."""
        while True:
            try:
                return await make()
            except errors.FloodWaitError as exc:
                await self._wait_out(exc, "on the user account")

    async def _history(
        self, channel: Channel, start_id: int, read: Callable[[int], AsyncIterator[Any]]
    ) -> AsyncGenerator[Any, None]:
        """The messages ``read(start_id)`` yields; a flood wait pauses, then ``read`` goes on
        from the last id seen (resumes, never restarts). RPC errors mean what
        ``_channel_failure`` says."""
        last_id = start_id
        while True:
            try:
                async for message in read(last_id):
                    last_id = message.id  # Telethon yields ids strictly in the read's order
                    yield message
                return
            except errors.FloodWaitError as exc:
                await self._wait_out(exc, f"while reading channel {channel.id} at {last_id}")
            except errors.RPCError as exc:
                raise _channel_failure(channel.id, exc) from exc

    # ---------------------------------------------------------------- ChannelDirectory
    async def resolve_channel(self, username: str) -> ResolvedChannel:
        """Resolve a username (one request; results are cached by Telethon's session)."""
        try:
            entity = await self.client.get_entity(username)
        except (ValueError, errors.UsernameNotOccupiedError, errors.UsernameInvalidError):
            raise ChannelLookupError(f"@{username} does not exist.") from None
        except errors.FloodWaitError as exc:
            raise ChannelLookupError(
                f"Telegram asks to wait {exc.seconds}s before resolving more names; try later."
            ) from None
        if isinstance(entity, types.User):
            what = "a bot" if entity.bot else "a user"
            raise ChannelLookupError(f"@{username} is {what}, not a channel.")
        if isinstance(entity, types.ChannelForbidden):
            raise ChannelLookupError(f"@{username} is private or the account is banned there.")
        if not isinstance(entity, types.Channel):
            raise ChannelLookupError(f"@{username} is not a channel.")
        return ResolvedChannel(entity.id, entity.username, entity.title, entity.access_hash)

    async def join(self, channel: ResolvedChannel) -> None:
        """Join so that posts arrive as live updates."""
        target = types.InputChannel(channel.id, channel.access_hash or 0)
        try:
            await self.client(functions.channels.JoinChannelRequest(target))
        except errors.UserAlreadyParticipantError:
            return
        except (errors.ChannelPrivateError, errors.ChannelInvalidError):
            raise ChannelLookupError(
                f"{channel.title} is private: the account cannot join it."
            ) from None
        except errors.ChannelsTooMuchError:
            raise ChannelLimitError(
                "The user account has joined as many channels as Telegram allows (about 500);"
                " /unwatch some first."
            ) from None
        except errors.InviteRequestSentError:
            raise ChannelLookupError(
                f"{channel.title} requires approval; a join request was sent."
            ) from None
        except errors.FloodWaitError as exc:
            raise ChannelLookupError(
                f"Telegram asks to wait {exc.seconds}s before joining; try later."
            ) from None
        except (errors.ChannelBannedError, errors.UserBannedInChannelError,
                errors.ChatForbiddenError, errors.ChannelPublicGroupNaError):
            raise ChannelLookupError(
                f"The account is banned from {channel.title} or may not join it."
            ) from None
        except (errors.PeerIdInvalidError, errors.ChatIdInvalidError):
            raise ChannelLookupError(f"{channel.title} no longer exists.") from None
        except errors.RPCError as exc:
            if isinstance(exc, errors.UnauthorizedError):
                raise  # the session itself: not this channel's problem
            raise ChannelLookupError(
                f"Telegram refused to join {channel.title} ({exc.message}); try later."
            ) from None

    async def leave(self, channel_id: int, access_hash: int | None) -> None:
        """Leave a channel that is no longer watched."""
        target = types.InputChannel(channel_id, access_hash or 0)
        await self.client(functions.channels.LeaveChannelRequest(target))

    async def top_id(self, channel: ResolvedChannel) -> int:
        """The newest message id of a channel (0 if it has none)."""
        peer = types.InputPeerChannel(channel.id, channel.access_hash or 0)
        try:
            newest = await self._call(lambda: self.client.get_messages(peer, limit=1))
        except errors.RPCError as exc:
            failure = _channel_failure(channel.id, exc)
            if isinstance(failure, ChannelUnavailable):
                what = {ChannelStatus.PRIVATE: "is private or the account is banned there",
                        ChannelStatus.DELETED: "no longer exists"}[failure.trouble.status]
                raise ChannelLookupError(f"{channel.title} {what}.") from exc
            raise ChannelLookupError(
                f"Telegram refused to show the posts of {channel.title} ({failure}); try later."
            ) from exc
        return int(newest[0].id) if newest else 0

    # ---------------------------------------------------------------- HistorySource
    async def tops(
        self, channels: Sequence[Channel]
    ) -> tuple[list[ChannelTop], list[ChannelTrouble]]:
        """Newest ids via messages.getPeerDialogs, 100 channels per request."""
        tops: list[ChannelTop] = []
        troubles: list[ChannelTrouble] = []
        for start in range(0, len(channels), PEER_DIALOGS_BATCH):
            await self._tops_batch(list(channels[start:start + PEER_DIALOGS_BATCH]), tops,
                                   troubles)
        return tops, troubles

    async def _tops_batch(self, batch: list[Channel], tops: list[ChannelTop],
                          troubles: list[ChannelTrouble]) -> None:
        request = functions.messages.GetPeerDialogsRequest(peers=[
            types.InputDialogPeer(types.InputPeerChannel(c.id, c.access_hash or 0))
            for c in batch
        ])
        try:
            result = await self._call(lambda: self.client(request))
        except errors.RPCError as exc:
            failure = _channel_failure(batch[0].id, exc)  # re-raises the session's troubles
            if len(batch) > 1:
                # One bad channel fails the whole request: ask one by one to find it.
                for channel in batch:
                    await self._tops_batch([channel], tops, troubles)
                return
            if isinstance(failure, ChannelUnavailable):
                troubles.append(failure.trouble)
            else:  # worth another try at the next run; the others go on now
                troubles.append(ChannelTrouble(batch[0].id, ChannelStatus.ERROR, str(failure),
                                               passing=True))
            return
        chats = {c.id: c for c in result.chats}
        seen = set()
        for dialog in result.dialogs:
            channel_id = getattr(dialog.peer, "channel_id", None)
            entity = chats.get(channel_id)
            if channel_id is None:
                continue
            seen.add(channel_id)
            if isinstance(entity, types.ChannelForbidden) or entity is None:
                troubles.append(
                    ChannelTrouble(channel_id, ChannelStatus.PRIVATE, "ChannelForbidden"))
                continue
            tops.append(ChannelTop(channel_id, dialog.top_message, entity.username, entity.title))
        for channel in batch:
            if channel.id not in seen:
                # one odd answer is no reason to stop watching: the next reconcile asks again
                log.warning("channel %d missing from getPeerDialogs; skipped this time",
                            channel.id)

    async def fetch_after(
        self, channel: Channel, min_id: int, top_id: int | None = None
    ) -> AsyncIterator[Post]:
        """Every post above ``min_id`` in order; a flood wait pauses and resumes, not restarts.

        With ``top_id`` known there are at most ``top_id - min_id`` posts to fetch: telling
        Telethon so saves the request that would only confirm the end.
        """
        peer = types.InputPeerChannel(channel.id, channel.access_hash or 0)

        def oldest_first(after: int) -> AsyncIterator[Any]:
            return self.client.iter_messages(  # type: ignore[no-any-return]
                peer, min_id=after, reverse=True, wait_time=self.history_pause,
                limit=None if top_id is None else max(0, top_id - after))

        async with aclosing(self._history(channel, min_id, oldest_first)) as messages:
            async for message in messages:
                if isinstance(message, types.Message):  # skip service messages
                    yield message_to_post(message, channel.username)

    async def fetch_recent(
        self, channel: Channel, limit: int | None, since: dt.datetime | None, max_id: int
    ) -> list[Post]:
        """Newest first: up to ``limit`` posts, or all posts since ``since``, ids ≤ max_id."""
        peer = types.InputPeerChannel(channel.id, channel.access_hash or 0)
        posts: list[Post] = []

        def newest_first(before: int) -> AsyncIterator[Any]:
            return self.client.iter_messages(  # type: ignore[no-any-return]
                peer, offset_id=before, limit=None if since else limit,
                wait_time=self.history_pause)

        async with aclosing(self._history(channel, max_id + 1, newest_first)) as messages:
            async for message in messages:
                if not isinstance(message, types.Message):
                    continue
                post = message_to_post(message, channel.username)
                if since is not None and post.date < since:
                    return posts
                posts.append(post)
                if limit is not None and since is None and len(posts) >= limit:
                    return posts
        return posts

    async def fetch_ids(self, channel: Channel, ids: Sequence[int]) -> dict[int, Post | None]:
        """Current versions of these posts; None for the ones that are gone."""
        peer = types.InputPeerChannel(channel.id, channel.access_hash or 0)
        try:
            messages = await self._call(lambda: self.client.get_messages(peer, ids=list(ids)))
        except errors.RPCError as exc:
            raise _channel_failure(channel.id, exc) from exc
        out: dict[int, Post | None] = dict.fromkeys(ids)
        for message in messages:
            if isinstance(message, types.Message):
                out[message.id] = message_to_post(message, channel.username)
        return out


# Telegram's answers that mean "this account cannot read this channel any more".
_PRIVATE = (errors.ChannelPrivateError, errors.ChannelBannedError,
            errors.UserBannedInChannelError, errors.ChatForbiddenError,
            errors.ChannelPublicGroupNaError)
_GONE = (errors.ChannelInvalidError, errors.PeerIdInvalidError, errors.ChatIdInvalidError)


def _channel_failure(channel_id: int, exc: errors.RPCError) -> Exception:
    """What an RPC error while reading one channel means for that channel.

    Errors about the session (401: logged out, revoked) concern every channel: re-raised.
    """
    if isinstance(exc, errors.UnauthorizedError):
        raise AccountUnavailable(f"the user account's session stopped working ({exc})") from exc
    name = type(exc).__name__
    if isinstance(exc, _PRIVATE):
        return ChannelUnavailable(channel_id, ChannelStatus.PRIVATE, name)
    if isinstance(exc, _GONE):
        return ChannelUnavailable(channel_id, ChannelStatus.DELETED, name)
    return ChannelReadFailed(f"{name}: {exc.message}" if exc.message else name)
