"""Bot commands: one registration table of thin handlers over the services.

Handlers take a ``CommandContext`` (plain data built by the Telegram adapter from the event)
and return the HTML reply. Permission policy lives in bot/guard.py, not here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.match import RuleSyntaxError
from bot.models import ChatKind, Role
from bot.regions.gazetteer import Gazetteer, Place, PlaceLookupError, resolve
from bot.render import esc, format_time, highlight
from bot.services.access import AccessService
from bot.services.rules import RuleLimitError, RulesService
from bot.services.watch import WatchError, WatchService, parse_watch_args
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


@dataclass(frozen=True)
class Services:
    """What command handlers may use."""

    store: Store
    access: AccessService
    watch: WatchService
    rules: RulesService
    default_tz: ZoneInfo
    backfill_posts: int = 200


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


async def cmd_start(ctx: CommandContext, svc: Services) -> str:
    """Greet, and resume a chat whose alerts had stopped."""
    revived = await svc.store.revive_chat(ctx.chat_id)
    if revived:
        await svc.rules.rebuild()  # its rules alert again
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
    """Start watching a channel with the user account, and backfill its recent posts."""
    if not ctx.args:
        return "Usage: /watch @name or /watch https://t.me/name [since 2026-11-01]"
    try:
        target, since = parse_watch_args(ctx.args)
        channel, created = await svc.watch.watch(target, ctx.sender_id, ctx.chat_id, since)
    except WatchError as exc:
        return f"⚠️ {esc(str(exc))}"
    name = f" (@{esc(channel.username)})" if channel.username else ""
    if not created:
        return f"Already watching <b>{esc(channel.title)}</b>{name}."
    earlier = (f"posts since {since.isoformat()}" if since
               else f"the last {svc.backfill_posts} posts")
    return (f"👁 Watching <b>{esc(channel.title)}</b>{name}. New posts are matched from now on;"
            f" {earlier} are being stored without alerts.")


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
        lines.append(f"• <b>{esc(ch.title)}</b>{name} — {s.post_count} posts, last {last}{status}")
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


COMMANDS: tuple[Command, ...] = (
    Command("start", cmd_start, Role.MEMBER, False, "/start", "start, or resume alerts here"),
    Command("help", cmd_help, Role.MEMBER, False, "/help", "this list"),
    Command("alert", cmd_alert, Role.MEMBER, False, "/alert <rule>", "add an alert rule"),
    Command("region", cmd_region, Role.MEMBER, False, "/region <place>",
            "alerts for a place and everything in it"),
    Command("rules", cmd_rules, Role.MEMBER, False, "/rules", "list this chat's rules"),
    Command("test", cmd_test, Role.MEMBER, False, "/test <rule>",
            "try a rule on the posts stored so far"),
    Command("delete", cmd_delete, Role.MEMBER, False, "/delete <n>", "delete rule number n"),
    Command("ondelete", cmd_ondelete, Role.MEMBER, False, "/ondelete <n> on|off",
            "be told when a post rule n alerted on is deleted"),
    Command("watch", cmd_watch, Role.ADMIN, True, "/watch @name [since YYYY-MM-DD]",
            "watch a channel"),
    Command("unwatch", cmd_unwatch, Role.ADMIN, True, "/unwatch @name", "stop watching"),
    Command("channels", cmd_channels, Role.ADMIN, True, "/channels", "watched channels"),
    Command("allow", cmd_allow, Role.ADMIN, True, "/allow <user id>", "grant access"),
    Command("deny", cmd_deny, Role.ADMIN, True, "/deny <user id>", "withdraw access"),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}
