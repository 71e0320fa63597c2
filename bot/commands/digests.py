"""/digest: a chat's scheduled digest (set, show, send now, switch off)."""

from __future__ import annotations

from bot.commands.context import CommandContext, Services
from bot.commands.replies import USAGE_DIGEST, warn
from bot.render import esc
from bot.schedule import ScheduleError, digest_cron


async def cmd_digest(ctx: CommandContext, svc: Services) -> str:
    """Schedule, show, send now, or switch off this chat's digest."""
    digests = svc.digests
    if digests is None:
        return "⚠️ Digests are not available."
    arg = ctx.args.strip()
    if not arg:
        chat = await svc.chats.get(ctx.chat_id)
        return f"🗞 Digest: {esc(digests.describe(chat))}.\n{USAGE_DIGEST}"
    if arg.lower() == "off":
        await digests.set_schedule(ctx.chat_id, None)
        return "🗞 Digest switched off."
    if arg.lower() == "now":
        key = f"now:{svc.clock.now().isoformat()}"
        await digests.send(await svc.chats.get(ctx.chat_id), key=key, move_period=False)
        return "🗞 Here is the digest so far (the scheduled one still covers the whole period)."
    try:
        expr = digest_cron(arg)
    except ScheduleError as exc:
        return warn(exc)
    chat = await digests.set_schedule(ctx.chat_id, expr)
    lines = [f"🗞 Digest {esc(digests.describe(chat))}: matches of rules in digest or"
             " both mode since the last digest, the most viewed posts and a chart."]
    if not any(r.in_digest for r in await svc.rules.list(ctx.chat_id)):
        lines.append("No rule is in digest mode yet: /mode &lt;n&gt; digest (or both).")
    return "\n".join(lines)
