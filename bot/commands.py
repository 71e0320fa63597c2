"""Bot commands: one registration table of thin handlers over the services.

Handlers take a ``CommandContext`` (plain data built by the Telegram adapter from the event)
and return the HTML reply. Permission policy lives in bot/guard.py, not here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock, SystemClock
from bot.config import parse_duration
from bot.match import RuleSyntaxError
from bot.models import Chat, ChatKind, Role
from bot.regions.gazetteer import Gazetteer, Place, PlaceLookupError, resolve
from bot.render import esc, format_time, highlight, human_delay
from bot.schedule import ScheduleError, digest_cron, format_hhmm, parse_range
from bot.services.access import AccessService
from bot.services.digest import DigestService
from bot.services.rules import RuleLimitError, RulesService
from bot.services.watch import (
    LIVE_LIMIT,
    WatchError,
    WatchLimitError,
    WatchService,
    parse_channel_target,
    parse_watch_args,
)
from bot.store import Store


@dataclass(frozen=True)
class CommandContext:
    """Who sent a command, where, and with which arguments (identity from the event only)."""

    sender_id: int
    chat_id: int
    chat_kind: ChatKind
    chat_title: str | None
    args: str
    role: Role


class PreviewWatcher(Protocol):
    """Follows a public channel through its web preview (bot/preview/)."""

    async def watch(self, username: str, added_by: int,
                    since: dt.date | None = None) -> tuple[str, bool]:
        """Start following (and backfill); return (title, newly watched) or raise WatchError."""
        ...


@dataclass(frozen=True)
class Services:
    """What command handlers may use."""

    store: Store
    access: AccessService
    watch: WatchService
    rules: RulesService
    default_tz: ZoneInfo
    backfill_posts: int = 200
    digests: DigestService | None = None
    clock: Clock = field(default_factory=SystemClock)
    webhook_allow_private: bool = False
    translator_name: str | None = None  # the configured provider, if any
    preview: PreviewWatcher | None = None


@dataclass(frozen=True)
class Reply:
    """A reply with inline buttons under it: (label, callback data) pairs, one per row."""

    html: str
    buttons: tuple[tuple[str, str], ...] = ()


Handler = Callable[[CommandContext, Services], Awaitable["str | Reply"]]


@dataclass(frozen=True)
class Command:
    """One entry of the registration table."""

    name: str
    handler: Handler
    access: Role
    private_only: bool
    usage: str
    description: str
    changes: bool = False  # changes the chat's settings: in groups, group admins only


async def cmd_start(ctx: CommandContext, svc: Services) -> str:
    """Greet, and resume a chat whose alerts had stopped."""
    revived = await svc.store.revive_chat(ctx.chat_id)
    if revived:
        await svc.rules.rebuild()  # its rules alert again
        if svc.digests is not None:
            svc.digests.schedule(await _chat(ctx, svc))
    lines = ["👋 <b>chanwatch</b> watches Telegram channels and alerts you when a post matches"
             " your rules."]
    if revived:
        lines.append("Alerts to this chat are active again.")
    lines.append(f"You are {'an admin' if ctx.role is Role.ADMIN else 'a subscriber'}."
                 " /help lists what you can do.")
    return "\n".join(lines)


async def cmd_help(ctx: CommandContext, svc: Services) -> str:
    """List the commands the caller may use."""
    lines = ["<b>Commands</b>"]
    for command in COMMANDS:
        if command.access is Role.ADMIN and ctx.role is not Role.ADMIN:
            continue
        note = " (admin, private chat)" if command.access is Role.ADMIN else ""
        lines.append(f"{esc(command.usage)} — {esc(command.description)}{note}")
    lines.append("\nRules: words match in any form (Белгород finds “над Белгородом”),"
                 ' "quoted phrase" needs the words in a row, =word this form only, word* a'
                 " prefix, OR, NOT or -word, (parentheses), NEAR/5(a b), channel:@name,"
                 " lang:ru|uk. Example: дрон* AND (Шебекино OR Shebekino) NOT учения")
    return "\n".join(lines)


async def cmd_watch(ctx: CommandContext, svc: Services) -> str:
    """Start watching a channel with the user account (or its web preview), and backfill."""
    if not ctx.args:
        return ("Usage: /watch @name or /watch https://t.me/name [since 2026-11-01],"
                " or /watch @name preview (read its public web preview, no join)")
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
            return f"⚠️ {esc(str(exc))}"
        return await _watch_preview(ctx, svc, ctx.args.split()[0],
                                    f"{exc} Reading it through its web preview instead. ", since)
    except WatchError as exc:
        return f"⚠️ {esc(str(exc))}"
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
        return "Usage: /unwatch @name"
    try:
        channel = await svc.watch.unwatch(ctx.args)
    except WatchError as exc:
        return f"⚠️ {esc(str(exc))}"
    return f"Stopped watching <b>{esc(channel.title)}</b>. Its stored posts are kept."


async def cmd_channels(ctx: CommandContext, svc: Services) -> str:
    """List channels with post counts and last post time."""
    stats = await svc.watch.channels()
    if not stats:
        return "No channels yet. Add one with /watch @name."
    chat = await svc.store.chat(ctx.chat_id)
    tz = ZoneInfo(chat.tz) if chat and chat.tz else svc.default_tz
    lines = ["<b>Channels</b>"]
    for s in stats:
        ch = s.channel
        name = f" @{esc(ch.username)}" if ch.username else ""
        last = format_time(s.last_post_at, tz) if s.last_post_at else "no posts yet"
        status = "" if ch.status == "active" else f" [{esc(ch.status)}]"
        via = " · web preview" if ch.source == "preview" else ""
        lines.append(f"• <b>{esc(ch.title)}</b>{name} — {s.post_count} posts, last {last}"
                     f"{via}{status}")
    return "\n".join(lines)


def syntax_error_reply(exc: RuleSyntaxError) -> str:
    """Where a rule went wrong and what was expected, with a caret under the spot."""
    return (f"⚠️ Cannot understand the rule at character {exc.position + 1}:"
            f" {esc(exc.message)}\n<code>{esc(exc.pointer())}</code>")


async def cmd_alert(ctx: CommandContext, svc: Services) -> str:
    """Add an alert rule to this chat."""
    if not ctx.args:
        return ("Usage: /alert &lt;rule&gt;, e.g. /alert Белгород беспилотник -учения"
                ' or /alert "сбит беспилотник"')
    try:
        rule, query = await svc.rules.add(ctx.chat_id, ctx.args, ctx.sender_id)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    except (RuleLimitError, PlaceLookupError) as exc:
        return f"⚠️ {esc(str(exc))}"
    return (f"✅ Rule #{rule.number} saved. Understood as: <code>{esc(query.render())}</code>\n"
            "New posts of watched channels are matched against it.")


async def cmd_test(ctx: CommandContext, svc: Services) -> str:
    """Show how a rule is understood and which recent stored posts it would have matched."""
    if not ctx.args:
        return "Usage: /test &lt;rule&gt; — try a rule on the posts stored so far"
    try:
        query, found, scanned = await svc.rules.test(ctx.args)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    head = f"Understood as: <code>{esc(query.render())}</code>"
    if not found:
        return f"{head}\nNone of the last {scanned} stored posts would have matched."
    chat = await svc.store.chat(ctx.chat_id)
    tz = ZoneInfo(chat.tz) if chat and chat.tz else svc.default_tz
    lines = [head, f"{len(found)} of the last {scanned} stored posts would have matched"
                   f"{' (newest first)' if len(found) > 1 else ''}:"]
    for post, title, hit in found:
        lines.append(f"\n<b>{esc(title)}</b> · {esc(format_time(post.date, tz))}\n"
                     f"{highlight(post.text, hit.spans, limit=200)}\n"
                     f'<a href="{esc(post.permalink)}">{esc(post.permalink)}</a>')
    return "\n".join(lines)


def region_expression(gazetteer: Gazetteer, place: Place) -> str:
    """How a rule names a place: by its name when that is unambiguous, else by its id."""
    name = place.display()
    try:
        if resolve(gazetteer, name).id == place.id:
            return f'region:"{name}"' if " " in name else f"region:{name}"
    except PlaceLookupError:
        pass
    return f"region:{place.id}"


def place_label(gazetteer: Gazetteer, place: Place) -> str:
    """"Мирное — Donetsk Oblast (settlement)": enough to tell places apart on a button."""
    region = gazetteer.places[place.region]
    if place.kind == "region":
        return f"{place.display()} ({place.id})"
    parent = gazetteer.places.get(place.parent or "")
    inside = f", {parent.display()}" if parent and parent.kind == "raion" else ""
    return f"{place.display()}{inside} — {region.display('en')} ({place.kind})"


async def add_region_rule(ctx: CommandContext, svc: Services, place: Place) -> str:
    """Store a region rule for a resolved place."""
    assert svc.rules.places is not None
    gazetteer = svc.rules.places.gazetteer
    expression = region_expression(gazetteer, place)
    try:
        rule, query = await svc.rules.add(ctx.chat_id, expression, ctx.sender_id)
    except (RuleLimitError, PlaceLookupError) as exc:
        return f"⚠️ {esc(str(exc))}"
    return (f"✅ Rule #{rule.number} saved: <code>{esc(query.render())}</code> —"
            f" {esc(place_label(gazetteer, place))} and everything in it.")


async def cmd_region(ctx: CommandContext, svc: Services) -> str | Reply:
    """Subscribe to a place (region, raion, town) by name, in any language, typos allowed."""
    if svc.rules.places is None:
        return "⚠️ Regions are not available: the gazetteer is not loaded."
    if not ctx.args:
        return "Usage: /region &lt;place&gt;, e.g. /region Белгородская область or /region Kupiansk"
    gazetteer = svc.rules.places.gazetteer
    try:
        place = resolve(gazetteer, ctx.args)
    except PlaceLookupError as exc:
        candidates = exc.candidates or gazetteer.fuzzy(ctx.args)
        if not candidates:
            return f"⚠️ {esc(str(exc))}"
        if len(candidates) == 1:
            return await add_region_rule(ctx, svc, candidates[0])
        return Reply(f"Which one do you mean by <b>{esc(ctx.args)}</b>?",
                     tuple((place_label(gazetteer, p), f"region:{p.id}")
                           for p in candidates[:8]))
    return await add_region_rule(ctx, svc, place)


async def cmd_rules(ctx: CommandContext, svc: Services) -> str:
    """List this chat's rules, numbered."""
    rules = await svc.rules.list(ctx.chat_id)
    if not rules:
        return "No rules in this chat yet. Add one with /alert &lt;words&gt;."
    lines = ["<b>Rules</b>"]
    lines += [f"#{r.number} <code>{esc(r.expression)}</code> ({r.mode}"
              f"{', deletions' if r.notify_deleted else ''})" for r in rules]
    return "\n".join(lines)


async def cmd_delete(ctx: CommandContext, svc: Services) -> str:
    """Delete one of this chat's rules by number."""
    raw = ctx.args.strip().lstrip("#")
    if not raw.isdigit():
        return "Usage: /delete &lt;n&gt; — the number shown by /rules"
    rule = await svc.rules.delete(ctx.chat_id, int(raw))
    if rule is None:
        return f"No rule #{int(raw)} in this chat. /rules lists them."
    return f"🗑 Rule #{rule.number} <code>{esc(rule.expression)}</code> deleted."


async def cmd_ondelete(ctx: CommandContext, svc: Services) -> str:
    """Ask to be told when a post a rule alerted on is deleted."""
    parts = ctx.args.replace("#", "").split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in ("on", "off"):
        return "Usage: /ondelete &lt;n&gt; on|off — tell this chat when an alerted post is deleted"
    on = parts[1].lower() == "on"
    rule = await svc.store.set_notify_deleted(ctx.chat_id, int(parts[0]), on)
    if rule is None:
        return f"No rule #{int(parts[0])} in this chat. /rules lists them."
    if on:
        return (f"🗑 Rule #{rule.number}: you will be told when a post it alerted on is deleted"
                " (the text stays stored).")
    return f"Rule #{rule.number}: no more deletion notices."


def _user_id_arg(args: str) -> int | None:
    raw = args.strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


async def cmd_allow(ctx: CommandContext, svc: Services) -> str:
    """Give a person subscriber rights."""
    user_id = _user_id_arg(ctx.args)
    if user_id is None:
        return ("Usage: /allow &lt;numeric user id&gt; — a person sees their id when"
                " they write to me")
    if svc.access.is_configured_admin(user_id):
        return f"{user_id} is an admin already (ADMIN_IDS)."
    if not await svc.access.allow(user_id, ctx.sender_id):
        return f"{user_id} may already use chanwatch."
    if await svc.store.set_chat_status(user_id, "active"):  # a chat paused by /deny
        await svc.rules.rebuild()
    return f"✅ {user_id} may now use chanwatch."


async def cmd_deny(ctx: CommandContext, svc: Services) -> str:
    """Take subscriber rights away."""
    user_id = _user_id_arg(ctx.args)
    if user_id is None:
        return "Usage: /deny &lt;numeric user id&gt;"
    if svc.access.is_configured_admin(user_id):
        return f"{user_id} is named in ADMIN_IDS; change that setting to remove them."
    if not await svc.access.deny(user_id):
        return f"{user_id} had no rights to withdraw."
    # their private chat stops receiving alerts at once (its rules stay, paused)
    if await svc.store.set_chat_status(user_id, "paused"):
        await svc.rules.rebuild()
    return f"{user_id} may no longer use chanwatch; alerts to their private chat are paused."


def _rule_number(raw: str) -> int | None:
    raw = raw.strip().lstrip("#")
    return int(raw) if raw.isdigit() else None


async def _chat(ctx: CommandContext, svc: Services) -> Chat:
    chat = await svc.store.chat(ctx.chat_id)
    assert chat is not None  # the router upserts the chat before any handler runs
    return chat


def _tz(chat: Chat, svc: Services) -> ZoneInfo:
    return ZoneInfo(chat.tz) if chat.tz else svc.default_tz


MODES = ("instant", "digest", "both")


async def cmd_mode(ctx: CommandContext, svc: Services) -> str:
    """Choose how a rule reports: instant alerts, the digest only, or both."""
    parts = ctx.args.split()
    number = _rule_number(parts[0]) if parts else None
    if len(parts) != 2 or number is None or parts[1].lower() not in MODES:
        return "Usage: /mode &lt;n&gt; instant|digest|both"
    rule = await svc.store.set_mode(ctx.chat_id, number, parts[1].lower())
    if rule is None:
        return f"No rule #{number} in this chat. /rules lists them."
    explain = {"instant": "alerts at once, not in the digest",
               "digest": "only in the digest, no instant alerts",
               "both": "alerts at once and counts in the digest"}[rule.mode]
    tip = ""
    if rule.mode != "instant" and not (await _chat(ctx, svc)).digest_cron:
        tip = "\nThis chat has no digest yet: /digest 08:00"
    return f"Rule #{rule.number} is now <b>{rule.mode}</b>: {explain}.{tip}"


async def cmd_mute(ctx: CommandContext, svc: Services) -> str:
    """Silence a rule's instant alerts for a while (its matches still count in digests)."""
    parts = ctx.args.split()
    number = _rule_number(parts[0]) if parts else None
    if number is None or len(parts) > 2:
        return "Usage: /mute &lt;n&gt; [24h] — durations like 30m, 8h, 2d (default 24h)"
    try:
        span = parse_duration(parts[1]) if len(parts) == 2 else dt.timedelta(hours=24)
    except ValueError:
        return f"⚠️ “{esc(parts[1])}” is not a duration like 30m, 8h or 2d."
    if not dt.timedelta(minutes=1) <= span <= dt.timedelta(days=365):
        return "⚠️ Mute for between a minute and a year."
    until = svc.clock.now() + span
    rule = await svc.store.set_muted(ctx.chat_id, number, until)
    if rule is None:
        return f"No rule #{number} in this chat. /rules lists them."
    tz = _tz(await _chat(ctx, svc), svc)
    return (f"🔕 Rule #{rule.number} muted for {esc(human_delay(span))}, until"
            f" {esc(format_time(until, tz))}. /unmute {rule.number} ends it sooner.")


async def cmd_unmute(ctx: CommandContext, svc: Services) -> str:
    """End a rule's mute."""
    number = _rule_number(ctx.args)
    if number is None:
        return "Usage: /unmute &lt;n&gt;"
    rule = await svc.store.set_muted(ctx.chat_id, number, None)
    if rule is None:
        return f"No rule #{number} in this chat. /rules lists them."
    return f"🔊 Rule #{rule.number} alerts again."


async def cmd_tz(ctx: CommandContext, svc: Services) -> str:
    """Show or set the chat's time zone (IANA names like Europe/Kyiv)."""
    chat = await _chat(ctx, svc)
    if not ctx.args:
        return (f"This chat's time zone is <b>{esc(_tz(chat, svc).key)}</b>."
                " Change it with /tz Europe/Kyiv (IANA names).")
    name = ctx.args.strip()
    try:
        zone = ZoneInfo(name)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return (f"⚠️ Unknown time zone “{esc(name)}”. Use an IANA name such as Europe/Kyiv,"
                " Europe/Moscow or UTC.")
    await svc.store.set_tz(ctx.chat_id, zone.key)
    chat = await _chat(ctx, svc)
    if svc.digests is not None:
        svc.digests.schedule(chat)  # the digest keeps its local time in the new zone
    now = format_time(svc.clock.now(), zone)
    return f"🕰 Time zone set to <b>{esc(zone.key)}</b> (now {esc(now)})."


async def cmd_quiet(ctx: CommandContext, svc: Services) -> str:
    """Hold instant alerts during quiet hours; deliver them in one message afterwards."""
    chat = await _chat(ctx, svc)
    tz = _tz(chat, svc)
    arg = ctx.args.strip().lower()
    if not arg:
        if chat.quiet_start is None or chat.quiet_end is None:
            return "No quiet hours. Set them with /quiet 23:00-07:00"
        return (f"🌙 Quiet hours {format_hhmm(chat.quiet_start)}–{format_hhmm(chat.quiet_end)}"
                f" ({esc(tz.key)}). /quiet off ends them.")
    if arg == "off":
        await svc.store.set_quiet(ctx.chat_id, None, None)
        released = await svc.store.release_held(ctx.chat_id)
        extra = f" {released} held alert{'s' if released != 1 else ''} will arrive now." \
            if released else ""
        return f"🔊 Quiet hours off.{extra}"
    try:
        start, end = parse_range(arg)
    except ScheduleError as exc:
        return f"⚠️ {esc(str(exc))}"
    await svc.store.set_quiet(ctx.chat_id, start, end)
    return (f"🌙 Quiet hours {format_hhmm(start)}–{format_hhmm(end)} ({esc(tz.key)}): instant"
            " alerts are held then and arrive together in one message when they end."
            " /quiet off ends them.")


async def cmd_digest(ctx: CommandContext, svc: Services) -> str:
    """Schedule, show, send now, or switch off this chat's digest."""
    if svc.digests is None:
        return "⚠️ Digests are not available."
    chat = await _chat(ctx, svc)
    arg = ctx.args.strip()
    if not arg:
        return (f"🗞 Digest: {esc(svc.digests.describe(chat))}.\nUsage: /digest 08:00,"
                ' /digest cron "0 8,20 * * *", /digest now, /digest off')
    if arg.lower() == "off":
        await svc.store.set_digest(ctx.chat_id, None)
        svc.digests.schedule(await _chat(ctx, svc))
        return "🗞 Digest switched off."
    if arg.lower() == "now":
        key = f"now:{svc.clock.now().isoformat()}"
        await svc.digests.send(chat, key=key, move_period=False)
        return "🗞 Here is the digest so far (the scheduled one still covers the whole period)."
    try:
        expr = digest_cron(arg)
    except ScheduleError as exc:
        return f"⚠️ {esc(str(exc))}"
    await svc.store.set_digest(ctx.chat_id, expr)
    chat = await _chat(ctx, svc)
    svc.digests.schedule(chat)
    lines = [f"🗞 Digest {esc(svc.digests.describe(chat))}: matches of rules in digest or"
             " both mode since the last digest, the most viewed posts and a chart."]
    if not any(r.mode in ("digest", "both") for r in await svc.rules.list(ctx.chat_id)):
        lines.append("No rule is in digest mode yet: /mode &lt;n&gt; digest (or both).")
    return "\n".join(lines)


MAX_WEBHOOKS = 5


def _url_host(url: str) -> str:
    """A webhook as lists show it: scheme and host only (paths often hold tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


async def cmd_translate(ctx: CommandContext, svc: Services) -> str:
    """Add a translation of the post under every alert to this chat (or stop)."""
    from bot.http.translate import check_lang

    chat = await _chat(ctx, svc)
    arg = ctx.args.strip().lower()
    if not arg:
        now = f"into <b>{esc(chat.translate_lang)}</b>" if chat.translate_lang else "off"
        return (f"🌐 Translation of alerts: {now}. /translate en (uk, ru, de …) or"
                " /translate off")
    if arg == "off":
        await svc.store.set_translate(ctx.chat_id, None)
        return "🌐 Alerts are no longer translated."
    try:
        lang = check_lang(arg)
    except ValueError as exc:
        return f"⚠️ {esc(str(exc))}"
    await svc.store.set_translate(ctx.chat_id, lang)
    if svc.translator_name is None:
        return (f"🌐 Alerts will be translated into <b>{esc(lang)}</b> — but no translation"
                " service is configured yet, so they arrive with a note instead. Ask the"
                " operator to set TRANSLATE_URL or DEEPL_API_KEY.")
    return (f"🌐 Alerts to this chat now carry a translation into <b>{esc(lang)}</b>"
            f" (via {esc(svc.translator_name)}).")


async def cmd_webhook(ctx: CommandContext, svc: Services) -> str:
    """Also POST this chat's alerts to a URL: add, list, delete, test."""
    from bot.http.webhooks import FORMATS, WebhookURLError, check_url

    words = ctx.args.split()
    sub = words[0].lower() if words else ""
    usage = ("Usage: /webhook add &lt;url&gt; [json|slack|discord|ntfy], /webhook list,"
             " /webhook delete &lt;n&gt;, /webhook test")
    if sub == "add" and len(words) in (2, 3):
        fmt = words[2].lower() if len(words) == 3 else "json"
        if fmt not in FORMATS:
            return f"⚠️ Unknown format “{esc(fmt)}”: json, slack, discord or ntfy."
        if len(await svc.store.webhooks(ctx.chat_id)) >= MAX_WEBHOOKS:
            return f"⚠️ This chat already has {MAX_WEBHOOKS} webhooks; /webhook delete one."
        try:
            url = await check_url(words[1], allow_private=svc.webhook_allow_private)
        except WebhookURLError as exc:
            return f"⚠️ {esc(str(exc))}"
        hook = await svc.store.add_webhook(ctx.chat_id, url, fmt, ctx.sender_id)
        return (f"🔗 Webhook #{hook.number} ({fmt}) → {esc(_url_host(url))} added. Alerts of"
                " this chat's rules are POSTed there too. /webhook test sends a test event.")
    if sub == "list" and len(words) == 1:
        hooks = await svc.store.webhooks(ctx.chat_id)
        if not hooks:
            return "No webhooks. /webhook add &lt;url&gt; [json|slack|discord|ntfy]"
        lines = ["<b>Webhooks</b>"]
        for h in hooks:
            state = "" if h.status == "active" else (
                f" — stopped: {esc(h.last_error or h.status)}")
            lines.append(f"#{h.number} {h.format} → {esc(_url_host(h.url))}{state}")
        return "\n".join(lines)
    if sub == "delete" and len(words) == 2:
        number = _rule_number(words[1])
        deleted = await svc.store.delete_webhook(ctx.chat_id, number) if number else None
        if deleted is None:
            return f"No webhook #{esc(words[1])} in this chat. /webhook list shows them."
        return f"🗑 Webhook #{deleted.number} deleted."
    if sub == "test" and len(words) == 1:
        hooks = [h for h in await svc.store.webhooks(ctx.chat_id) if h.status == "active"]
        if not hooks:
            return "No active webhook to test. /webhook add &lt;url&gt;"
        event = json.dumps({"version": 1, "type": "test", "chat_id": ctx.chat_id,
                            "sent_at": svc.clock.now().isoformat(timespec="seconds"),
                            "text": "chanwatch webhook test"}, ensure_ascii=False)
        for hook in hooks:
            await svc.store.enqueue_webhook_test(hook, event)
        return (f"🔗 A test event is on its way to {len(hooks)} webhook"
                f"{'s' if len(hooks) != 1 else ''}; a failure is reported here.")
    return usage


async def mute_button(ctx: CommandContext, svc: Services, data: str) -> tuple[str, str | None]:
    """The "mute 1h / 24h" buttons under an alert: (short answer, None)."""
    _, ids, span = [*data.split(":"), "", ""][:3]
    hours = {"1h": 1, "24h": 24}.get(span)
    rule_ids = [int(i) for i in ids.split(",") if i.isdigit()]
    if hours is None or not rule_ids:
        return "This button has expired.", None
    until = svc.clock.now() + dt.timedelta(hours=hours)
    rules = await svc.store.set_muted_ids(ctx.chat_id, rule_ids, until)
    if not rules:
        return "That rule no longer exists.", None
    names = ", ".join(f"#{r.number}" for r in rules)
    return f"🔕 {names} muted for {hours} h (/unmute to undo)", None


COMMANDS: tuple[Command, ...] = (
    Command("start", cmd_start, Role.MEMBER, False, "/start", "start, or resume alerts here",
            changes=True),
    Command("help", cmd_help, Role.MEMBER, False, "/help", "this list"),
    Command("alert", cmd_alert, Role.MEMBER, False, "/alert <rule>", "add an alert rule",
            changes=True),
    Command("region", cmd_region, Role.MEMBER, False, "/region <place>",
            "alerts for a place and everything in it", changes=True),
    Command("rules", cmd_rules, Role.MEMBER, False, "/rules", "list this chat's rules"),
    Command("test", cmd_test, Role.MEMBER, False, "/test <rule>",
            "try a rule on the posts stored so far"),
    Command("delete", cmd_delete, Role.MEMBER, False, "/delete <n>", "delete rule number n",
            changes=True),
    Command("mode", cmd_mode, Role.MEMBER, False, "/mode <n> instant|digest|both",
            "alert at once, only in the digest, or both", changes=True),
    Command("mute", cmd_mute, Role.MEMBER, False, "/mute <n> [24h]",
            "silence a rule's alerts for a while", changes=True),
    Command("unmute", cmd_unmute, Role.MEMBER, False, "/unmute <n>", "end a mute",
            changes=True),
    Command("ondelete", cmd_ondelete, Role.MEMBER, False, "/ondelete <n> on|off",
            "be told when a post rule n alerted on is deleted", changes=True),
    Command("digest", cmd_digest, Role.MEMBER, False,
            '/digest 08:00 | cron "0 8,20 * * *" | now | off', "scheduled digest",
            changes=True),
    Command("quiet", cmd_quiet, Role.MEMBER, False, "/quiet 23:00-07:00 | off",
            "hold alerts during quiet hours", changes=True),
    Command("translate", cmd_translate, Role.MEMBER, False, "/translate en | off",
            "add a translation under alerts", changes=True),
    Command("webhook", cmd_webhook, Role.MEMBER, False,
            "/webhook add <url> [json|slack|discord|ntfy] | list | delete <n> | test",
            "also POST alerts to a URL", changes=True),
    Command("tz", cmd_tz, Role.MEMBER, False, "/tz Europe/Kyiv", "this chat's time zone",
            changes=True),
    Command("watch", cmd_watch, Role.ADMIN, True, "/watch @name [since YYYY-MM-DD | preview]",
            "watch a channel (preview: through its web preview, no join)"),
    Command("unwatch", cmd_unwatch, Role.ADMIN, True, "/unwatch @name", "stop watching"),
    Command("channels", cmd_channels, Role.ADMIN, True, "/channels", "watched channels"),
    Command("allow", cmd_allow, Role.ADMIN, True, "/allow <user id>", "grant access"),
    Command("deny", cmd_deny, Role.ADMIN, True, "/deny <user id>", "withdraw access"),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}
