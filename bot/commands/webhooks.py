"""/webhook add|list|delete|test: also POST this chat's alerts to a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.commands.args import rule_number
from bot.commands.context import CommandContext, Services
from bot.commands.replies import USAGE_WEBHOOK, warn
from bot.render import esc
from bot.services.webhooks import WebhookError, WebhookFormatError, WebhookLimitError


def url_host(url: str) -> str:
    """A webhook as lists show it: scheme and host only (paths often hold tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


async def cmd_webhook(ctx: CommandContext, svc: Services) -> str:
    """Also POST this chat's alerts to a URL: add, list, delete, test."""
    words = ctx.args.split()
    sub = words[0].lower() if words else ""
    if sub == "add" and len(words) in (2, 3):
        return await _add(ctx, svc, words[1], words[2].lower() if len(words) == 3 else "json")
    if sub == "list" and len(words) == 1:
        return await _list(ctx, svc)
    if sub == "delete" and len(words) == 2:
        return await _delete(ctx, svc, words[1])
    if sub == "test" and len(words) == 1:
        return await _test(ctx, svc)
    return USAGE_WEBHOOK


async def _add(ctx: CommandContext, svc: Services, url: str, fmt: str) -> str:
    try:
        hook = await svc.webhooks.add(ctx.chat_id, url, fmt, ctx.sender_id)
    except WebhookFormatError:
        return f"⚠️ Unknown format “{esc(fmt)}”: json, slack, discord or ntfy."
    except WebhookLimitError:
        return (f"⚠️ This chat already has {svc.webhooks.max_per_chat} webhooks;"
                " /webhook delete one.")
    except WebhookError as exc:
        return warn(exc)
    return (f"🔗 Webhook #{hook.number} ({fmt}) → {esc(url_host(hook.url))} added. Alerts of"
            " this chat's rules are POSTed there too. /webhook test sends a test event.")


async def _list(ctx: CommandContext, svc: Services) -> str:
    hooks = await svc.webhooks.list(ctx.chat_id)
    if not hooks:
        return "No webhooks. /webhook add &lt;url&gt; [json|slack|discord|ntfy]"
    lines = ["<b>Webhooks</b>"]
    for h in hooks:
        state = "" if h.status == "active" else f" — stopped: {esc(h.last_error or h.status)}"
        lines.append(f"#{h.number} {h.format} → {esc(url_host(h.url))}{state}")
    return "\n".join(lines)


async def _delete(ctx: CommandContext, svc: Services, raw: str) -> str:
    number = rule_number(raw)  # the same "3" or "#3" as rule numbers
    deleted = await svc.webhooks.delete(ctx.chat_id, number) if number else None
    if deleted is None:
        return f"No webhook #{esc(raw)} in this chat. /webhook list shows them."
    return f"🗑 Webhook #{deleted.number} deleted."


async def _test(ctx: CommandContext, svc: Services) -> str:
    sent = await svc.webhooks.send_test(ctx.chat_id)
    if not sent:
        return "No active webhook to test. /webhook add &lt;url&gt;"
    return (f"🔗 A test event is on its way to {sent} webhook"
            f"{'s' if sent != 1 else ''}; a failure is reported here.")
