"""/similar: as a reply to an alert, the stored posts that carry the same picture."""

from __future__ import annotations

from bot.commands.context import CommandContext, Services
from bot.render import esc, format_time

USAGE_SIMILAR = ("Reply to one of my alerts with /similar to see the stored posts that carry"
                 " the same picture (other channels' reposts included).")


async def cmd_similar(ctx: CommandContext, svc: Services) -> str:
    """The posts whose image is within the same-picture distance of the alert's photo."""
    if svc.similar is None:
        return "Media are not kept on this instance."
    if ctx.reply_to is None:
        return USAGE_SIMILAR
    answer = await svc.similar.for_alert(ctx.chat_id, ctx.reply_to)
    if answer.problem is not None:
        return f"{esc(answer.problem)}\n{USAGE_SIMILAR}" if "alerts" in answer.problem else (
            esc(answer.problem))
    if not answer.posts:
        return "🖼 No other stored post carries this picture."
    tz = await svc.chats.zone_of(ctx.chat_id)
    lines = [f"🖼 Other stored posts with this picture: <b>{len(answer.posts)}</b>"]
    for hit in answer.posts:
        same = "the same picture" if hit.distance == 0 else f"{hit.distance} bits apart"
        deleted = " · 🗑 deleted" if hit.deleted_at else ""
        lines.append(f"• <b>{esc(hit.channel_title)}</b> · {format_time(hit.date, tz)}"
                     f" · <a href=\"{esc(hit.permalink)}\">post</a>{deleted} · {same}")
    return "\n".join(lines)
