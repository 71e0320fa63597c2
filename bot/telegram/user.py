"""The user account: receives channel posts live and resolves / joins channels."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient, errors, events
from telethon.tl import functions, types

from bot.models import Post
from bot.services.ports import ChannelLookupError, ResolvedChannel
from bot.services.watch import WatchedChannels
from bot.telegram.clients import NotLoggedIn
from bot.telegram.convert import message_to_post

log = logging.getLogger(__name__)


class UserGateway:
    """Wraps the user client; implements ``ChannelDirectory`` for the watch service."""

    def __init__(
        self, client: TelegramClient, watched: WatchedChannels,
        on_post: Callable[[Post], Awaitable[Any]],
    ) -> None:
        self.client = client
        self._watched = watched
        self._on_post = on_post

    async def start(self) -> None:
        """Connect, insist on an authorised session, and start receiving posts."""
        await self.client.connect()
        if not await self.client.is_user_authorized():
            raise NotLoggedIn("the user session is not logged in")
        me = await self.client.get_me()
        if getattr(me, "bot", False):
            raise NotLoggedIn("user.session belongs to a bot; log in with a user account")
        self.client.add_event_handler(self.on_new_message, events.NewMessage(incoming=True))

    async def on_new_message(self, event: Any) -> None:
        """Live handler: convert a watched channel's message and hand it to ingestion."""
        peer = event.message.peer_id
        if not isinstance(peer, types.PeerChannel) or peer.channel_id not in self._watched:
            return
        post = message_to_post(event.message, self._watched.username(peer.channel_id))
        try:
            await self._on_post(post)
        except Exception:
            # Logged once here; Telethon would only log it again and move on.
            log.exception("failed to process post %d of channel %d", post.message_id,
                          post.channel_id)

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
            raise ChannelLookupError(
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

    async def leave(self, channel_id: int, access_hash: int | None) -> None:
        """Leave a channel that is no longer watched."""
        target = types.InputChannel(channel_id, access_hash or 0)
        await self.client(functions.channels.LeaveChannelRequest(target))
