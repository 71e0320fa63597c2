"""/tz, /quiet, /translate, /media: a chat's own settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands.context import CommandContext, Services
from bot.commands.replies import warn
from bot.render import esc, format_time
from bot.schedule import ScheduleError, format_hhmm, parse_range


async def cmd_tz(ctx: CommandContext, svc: Services) -> str:
    """Show or set the chat's time zone (IANA names like Europe/Kyiv)."""
    if not ctx.args:
        zone = svc.chats.zone(await svc.chats.get(ctx.chat_id))
        return (f"This chat's time zone is <b>{esc(zone.key)}</b>."
                " Change it with /tz Europe/Kyiv (IANA names).")
    name = ctx.args.strip()
    try:
        zone = ZoneInfo(name)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return (f"⚠️ Unknown time zone “{esc(name)}”. Use an IANA name such as Europe/Kyiv,"
                " Europe/Moscow or UTC.")
    await svc.chats.set_tz(ctx.chat_id, zone)
    now = format_time(svc.clock.now(), zone)
    return f"🕰 Time zone set to <b>{esc(zone.key)}</b> (now {esc(now)})."


async def cmd_quiet(ctx: CommandContext, svc: Services) -> str:
    """Hold instant alerts during quiet hours; deliver them in one message afterwards."""
    chat = await svc.chats.get(ctx.chat_id)
    tz = svc.chats.zone(chat)
    arg = ctx.args.strip().lower()
    if not arg:
        if chat.quiet_start is None or chat.quiet_end is None:
            return "No quiet hours. Set them with /quiet 23:00-07:00"
        return (f"🌙 Quiet hours {format_hhmm(chat.quiet_start)}–{format_hhmm(chat.quiet_end)}"
                f" ({esc(tz.key)}). /quiet off ends them.")
    if arg == "off":
        released = await svc.chats.quiet_off(ctx.chat_id)
        extra = f" {released} held alert{'s' if released != 1 else ''} will arrive now." \
            if released else ""
        return f"🔊 Quiet hours off.{extra}"
    try:
        start, end = parse_range(arg)
    except ScheduleError as exc:
        return warn(exc)
    await svc.chats.set_quiet(ctx.chat_id, start, end)
    return (f"🌙 Quiet hours {format_hhmm(start)}–{format_hhmm(end)} ({esc(tz.key)}): instant"
            " alerts are held then and arrive together in one message when they end."
            " /quiet off ends them.")


async def cmd_translate(ctx: CommandContext, svc: Services) -> str:
    """Add a translation of the post under every alert to this chat (or stop)."""
    from bot.http.translate import check_lang  # httpx loads only when this is used

    arg = ctx.args.strip().lower()
    if not arg:
        chat = await svc.chats.get(ctx.chat_id)
        now = f"into <b>{esc(chat.translate_lang)}</b>" if chat.translate_lang else "off"
        return (f"🌐 Translation of alerts: {now}. /translate en (uk, ru, de …) or"
                " /translate off")
    if arg == "off":
        await svc.chats.set_translate(ctx.chat_id, None)
        return "🌐 Alerts are no longer translated."
    try:
        lang = check_lang(arg)
    except ValueError as exc:
        return warn(exc)
    await svc.chats.set_translate(ctx.chat_id, lang)
    if svc.translator_name is None:
        return (f"🌐 Alerts will be translated into <b>{esc(lang)}</b> — but no translation"
                " service is configured yet, so they arrive with a note instead. Ask the"
                " operator to set TRANSLATE_URL or DEEPL_API_KEY.")
    return (f"🌐 Alerts to this chat now carry a translation into <b>{esc(lang)}</b>"
            f" (via {esc(svc.translator_name)}).")


async def cmd_media(ctx: CommandContext, svc: Services) -> str:
    """Send this chat's alerts as the post's photo with the alert as its caption (or not)."""
    arg = ctx.args.strip().lower()
    chat = await svc.chats.get(ctx.chat_id)
    if arg not in ("", "on", "off"):
        return warn("Use /media on or /media off (or /media to see the setting).")
    if not arg:
        now = "on: alerts come as the post's photo" if chat.media_alerts else "off: text only"
        return f"🖼 Alerts with the picture: {now}. /media on | off"
    on = arg == "on"
    await svc.chats.set_media_alerts(ctx.chat_id, on)
    if not on:
        return "🖼 Alerts to this chat are text again (a photo shows as [photo])."
    if not svc.media_kept:
        return ("🖼 Alerts will come as the post's photo — but this instance does not keep"
                " media (MEDIA=off), so they stay text until the operator turns it on.")
    return ("🖼 Alerts of posts with a photo now come as that photo (an album's first) with"
            " the alert as its caption; a long alert continues in a message after it."
            " An alert waits up to 15 s for its photo to be downloaded.")
