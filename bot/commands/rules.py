"""/alert, /test, /rules, /delete, /ondelete, /mode, /mute, /unmute: a chat's alert rules."""

from __future__ import annotations

import datetime as dt

from bot.commands.args import rule_mode, rule_number
from bot.commands.context import CommandContext, Services
from bot.commands.replies import (
    USAGE_ALERT,
    USAGE_DELETE,
    USAGE_MODE,
    USAGE_MUTE,
    USAGE_ONDELETE,
    USAGE_TEST,
    USAGE_UNMUTE,
    no_rule,
    syntax_error_reply,
    warn,
)
from bot.config import parse_duration
from bot.match import RuleSyntaxError
from bot.models import RuleMode
from bot.regions.gazetteer import PlaceLookupError
from bot.render import esc, format_time, highlight, human_delay
from bot.services.rules import RuleLimitError

_MODE_EXPLAINED = {RuleMode.INSTANT: "alerts at once, not in the digest",
                   RuleMode.DIGEST: "only in the digest, no instant alerts",
                   RuleMode.BOTH: "alerts at once and counts in the digest"}
DEFAULT_MUTE = dt.timedelta(hours=24)


async def cmd_alert(ctx: CommandContext, svc: Services) -> str:
    """Add an alert rule to this chat."""
    if not ctx.args:
        return USAGE_ALERT
    try:
        rule, query = await svc.rules.add(ctx.chat_id, ctx.args, ctx.sender_id)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    except (RuleLimitError, PlaceLookupError) as exc:
        return warn(exc)
    return (f"✅ Rule #{rule.number} saved. Understood as: <code>{esc(query.render())}</code>\n"
            "New posts of watched channels are matched against it.")


async def cmd_test(ctx: CommandContext, svc: Services) -> str:
    """Show how a rule is understood and which recent stored posts it would have matched."""
    if not ctx.args:
        return USAGE_TEST
    try:
        query, found, scanned = await svc.rules.test(ctx.args)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    head = f"Understood as: <code>{esc(query.render())}</code>"
    if not found:
        return f"{head}\nNone of the last {scanned} stored posts would have matched."
    tz = await svc.chats.zone_of(ctx.chat_id)
    lines = [head, f"{len(found)} of the last {scanned} stored posts would have matched"
                   f"{' (newest first)' if len(found) > 1 else ''}:"]
    for post, title, hit in found:
        lines.append(f"\n<b>{esc(title)}</b> · {esc(format_time(post.date, tz))}\n"
                     f"{highlight(post.text, hit.spans, limit=200)}\n"
                     f'<a href="{esc(post.permalink)}">{esc(post.permalink)}</a>')
    return "\n".join(lines)


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
    number = rule_number(ctx.args)
    if number is None:
        return USAGE_DELETE
    rule = await svc.rules.delete(ctx.chat_id, number)
    if rule is None:
        return no_rule(number)
    return f"🗑 Rule #{rule.number} <code>{esc(rule.expression)}</code> deleted."


async def cmd_ondelete(ctx: CommandContext, svc: Services) -> str:
    """Ask to be told when a post a rule alerted on is deleted."""
    parts = ctx.args.replace("#", "").split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in ("on", "off"):
        return USAGE_ONDELETE
    on = parts[1].lower() == "on"
    rule = await svc.rules.set_notify_deleted(ctx.chat_id, int(parts[0]), on)
    if rule is None:
        return no_rule(int(parts[0]))
    if on:
        return (f"🗑 Rule #{rule.number}: you will be told when a post it alerted on is deleted"
                " (the text stays stored).")
    return f"Rule #{rule.number}: no more deletion notices."


async def cmd_mode(ctx: CommandContext, svc: Services) -> str:
    """Choose how a rule reports: instant alerts, the digest only, or both."""
    parts = ctx.args.split()
    number = rule_number(parts[0]) if parts else None
    mode = rule_mode(parts[1]) if len(parts) == 2 else None
    if number is None or mode is None:
        return USAGE_MODE
    rule = await svc.rules.set_mode(ctx.chat_id, number, mode)
    if rule is None:
        return no_rule(number)
    tip = ""
    if rule.in_digest and not (await svc.chats.get(ctx.chat_id)).digest_cron:
        tip = "\nThis chat has no digest yet: /digest 08:00"
    return (f"Rule #{rule.number} is now <b>{rule.mode}</b>: {_MODE_EXPLAINED[rule.mode]}."
            f"{tip}")


async def cmd_mute(ctx: CommandContext, svc: Services) -> str:
    """Silence a rule's instant alerts for a while (its matches still count in digests)."""
    parts = ctx.args.split()
    number = rule_number(parts[0]) if parts else None
    if number is None or len(parts) > 2:
        return USAGE_MUTE
    try:
        span = parse_duration(parts[1]) if len(parts) == 2 else DEFAULT_MUTE
    except ValueError:
        return f"⚠️ “{esc(parts[1])}” is not a duration like 30m, 8h or 2d."
    if not dt.timedelta(minutes=1) <= span <= dt.timedelta(days=365):
        return "⚠️ Mute for between a minute and a year."
    until = svc.clock.now() + span
    rule = await svc.rules.mute(ctx.chat_id, number, until)
    if rule is None:
        return no_rule(number)
    tz = await svc.chats.zone_of(ctx.chat_id)
    return (f"🔕 Rule #{rule.number} muted for {esc(human_delay(span))}, until"
            f" {esc(format_time(until, tz))}. /unmute {rule.number} ends it sooner.")


async def cmd_unmute(ctx: CommandContext, svc: Services) -> str:
    """End a rule's mute."""
    number = rule_number(ctx.args)
    if number is None:
        return USAGE_UNMUTE
    rule = await svc.rules.mute(ctx.chat_id, number, None)
    if rule is None:
        return no_rule(number)
    return f"🔊 Rule #{rule.number} alerts again."
