"""/watch, /unwatch, /channels: the channels chanwatch reads (admins, private chat)."""

from __future__ import annotations

import datetime as dt

from bot.commands.context import CommandContext, Services
from bot.commands.replies import USAGE_UNWATCH, USAGE_WATCH, warn
from bot.models import ChannelSource, ChannelStatus
from bot.render import esc, format_time
from bot.services.watch import (
    LIVE_LIMIT,
    WatchError,
    WatchLimitError,
    parse_channel_target,
    parse_watch_args,
)


async def cmd_watch(ctx: CommandContext, svc: Services) -> str:
    """Start watching a channel with the user account (or its web preview), and backfill."""
    if not ctx.args:
        return USAGE_WATCH
    words = ctx.args.split()
    preview = len(words) >= 2 and words[1].lower() == "preview"
    try:
        target, since = parse_watch_args(" ".join(words[:1] + words[2:]) if preview
                                         else ctx.args)
        if preview:
            return await _watch_preview(ctx, svc, target, "", since)
        if svc.preview is not None and await svc.watch.live_count() >= LIVE_LIMIT:
            return await _watch_preview(
                ctx, svc, target, f"The account has joined {LIVE_LIMIT}+ channels (Telegram"
                " allows about 500), so this one is read through its web preview. ", since)
        channel, created = await svc.watch.watch(target, ctx.sender_id, ctx.chat_id, since)
    except WatchLimitError as exc:
        if svc.preview is None:
            return warn(exc)
        return await _watch_preview(ctx, svc, ctx.args.split()[0],
                                    f"{exc} Reading it through its web preview instead. ", since)
    except WatchError as exc:
        return warn(exc)
    name = f" (@{esc(channel.username)})" if channel.username else ""
    if not created:
        return f"Already watching <b>{esc(channel.title)}</b>{name}."
    earlier = (f"posts since {since.isoformat()}" if since
               else f"the last {svc.backfill_posts} posts")
    return (f"👁 Watching <b>{esc(channel.title)}</b>{name}. New posts are matched from now on;"
            f" {earlier} are being stored without alerts.")


async def _watch_preview(ctx: CommandContext, svc: Services, target: str, why: str,
                         since: dt.date | None = None) -> str:
    if svc.preview is None:
        return "⚠️ Web-preview channels are not available in this instance."
    try:
        username = parse_channel_target(target)
        # ``since`` only when asked: watchers written before it existed still fit
        title, created = await (svc.preview.watch(username, ctx.sender_id, since) if since
                                else svc.preview.watch(username, ctx.sender_id))
    except WatchError as exc:
        return f"⚠️ {esc(why)}{esc(str(exc))}"
    if not created:
        return f"{esc(why)}Already watching <b>{esc(title)}</b> (@{esc(username)})."
    earlier = (f"its posts since {since.isoformat()}" if since
               else f"its last {svc.backfill_posts} posts")
    return (f"🌐 {esc(why)}Watching <b>{esc(title)}</b> (@{esc(username)}) through its web"
            " preview (t.me/s), polled every few minutes: no join needed. New posts are"
            f" matched from now on; {earlier} are being stored without alerts.")


async def cmd_unwatch(ctx: CommandContext, svc: Services) -> str:
    """Stop watching a channel; its stored posts are kept."""
    if not ctx.args:
        return USAGE_UNWATCH
    try:
        channel = await svc.watch.unwatch(ctx.args)
    except WatchError as exc:
        return warn(exc)
    return f"Stopped watching <b>{esc(channel.title)}</b>. Its stored posts are kept."


async def cmd_channels(ctx: CommandContext, svc: Services) -> str:
    """List channels with post counts and last post time."""
    stats = await svc.watch.channels()
    if not stats:
        return "No channels yet. Add one with /watch @name."
    tz = await svc.chats.zone_of(ctx.chat_id)
    lines = ["<b>Channels</b>"]
    for s in stats:
        ch = s.channel
        name = f" @{esc(ch.username)}" if ch.username else ""
        last = format_time(s.last_post_at, tz) if s.last_post_at else "no posts yet"
        status = "" if ch.status == ChannelStatus.ACTIVE else f" [{esc(ch.status)}]"
        via = " · web preview" if ch.source == ChannelSource.PREVIEW else ""
        lines.append(f"• <b>{esc(ch.title)}</b>{name} — {s.post_count} posts, last {last}"
                     f"{via}{status}")
    return "\n".join(lines)


async def cmd_health(ctx: CommandContext, svc: Services) -> str:
    """Whether chanwatch is reading, matching and delivering (bot/services/health.py)."""
    if svc.health is None:
        return "Health is not available here."
    first, *rest = await svc.health()
    return f"🩺 <b>{esc(first)}</b>\n" + "\n".join(esc(line) for line in rest)
