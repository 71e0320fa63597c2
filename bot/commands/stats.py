"""/stats: a chart of matching posts per hour or day, by channel, with totals under it."""

from __future__ import annotations

import asyncio

from bot.archive.stats import (
    OTHER,
    ArchiveStats,
    StatsError,
    parse_selector,
    period_buckets,
    period_words,
    region_namer,
    split_period,
    summary,
)
from bot.commands.context import CommandContext, Reply, Services
from bot.commands.replies import no_rule, syntax_error_reply, warn
from bot.commands.search import index_note
from bot.match import RuleSyntaxError
from bot.render import esc

USAGE_STATS = ("Usage: /stats [rule &lt;n&gt; | region &lt;place&gt; | @channel | &lt;query&gt;]"
               " [24h|7d|30d|90d] — e.g. /stats Белгород 7d, /stats rule 2 30d")


async def cmd_stats(ctx: CommandContext, svc: Services) -> str | Reply:
    """Chart the posts a rule, place, channel or query matched over 24h, 7d, 30d or 90d."""
    if svc.archive is None:
        return "Stats are not available on this instance."
    if ctx.args.strip().lower() in ("help", "?"):
        return USAGE_STATS
    try:
        words, period = split_period(ctx.args)
        selector = parse_selector(words)
    except StatsError as exc:
        return f"{warn(exc)}\n{USAGE_STATS}"
    query, label = selector.query, selector.label
    if selector.rule is not None:
        rule = next((r for r in await svc.rules.list(ctx.chat_id)
                     if r.number == selector.rule), None)
        if rule is None:
            return no_rule(selector.rule)
        query, label = rule.expression, f"rule #{rule.number} {rule.expression}"
    tz = await svc.chats.zone_of(ctx.chat_id)
    buckets = period_buckets(period, svc.clock.now(), tz)
    try:
        compiled = (svc.archive.compile(query, buckets.since, buckets.until)
                    if query is not None else None)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    except ValueError as exc:  # a region: that names no place
        return warn(exc)
    # the service reads the store itself: Services hands handlers no ArchiveStats yet
    stats = await ArchiveStats(svc.store, svc.archive).compute(compiled, buckets)
    lines = summary(stats, label, period, region_namer(svc.rules.places))
    note = await index_note(svc)
    if stats.total == 0:
        return (f"📊 No stored post matches <code>{esc(label)}</code> in the"
                f" {esc(period_words(buckets, period))}.{note}")
    from bot.chart import render_stacked_chart  # matplotlib: ~1 s to import

    png = await asyncio.to_thread(
        render_stacked_chart, stats.buckets.starts, stats.series, title=lines[0],
        per=stats.buckets.per, tz=tz, other=OTHER)
    html = "\n".join([f"<b>{esc(lines[0])}</b>", *(esc(line) for line in lines[1:])]) + note
    return Reply(html, file=png, file_name="stats.png", photo=True)
