"""Bot commands: one registration table of thin handlers over the services.

Handlers take a ``CommandContext`` (plain data built by the Telegram adapter from the event)
and the ``Services``, and return the HTML reply. One module per feature holds its handlers;
replies several of them give live in ``replies``. Permission policy lives in bot/guard.py.
"""

from __future__ import annotations

from bot.commands.access import cmd_allow, cmd_deny, cmd_help, cmd_start
from bot.commands.buttons import BUTTONS, READ_ONLY_BUTTONS, mute_button, region_button
from bot.commands.channels import cmd_channels, cmd_health, cmd_unwatch, cmd_watch
from bot.commands.context import (
    ButtonHandler,
    Command,
    CommandContext,
    Handler,
    PreviewWatcher,
    Reply,
    Services,
)
from bot.commands.digests import cmd_digest
from bot.commands.export import cmd_export
from bot.commands.media import cmd_similar
from bot.commands.regions import add_region_rule, cmd_region, place_label, region_expression
from bot.commands.replies import syntax_error_reply
from bot.commands.rules import (
    cmd_alert,
    cmd_delete,
    cmd_mode,
    cmd_mute,
    cmd_ondelete,
    cmd_rules,
    cmd_test,
    cmd_unmute,
)
from bot.commands.search import cmd_search
from bot.commands.settings import cmd_media, cmd_quiet, cmd_translate, cmd_tz
from bot.commands.stats import cmd_stats
from bot.commands.top import cmd_top
from bot.commands.webhooks import cmd_webhook
from bot.models import Role

__all__ = [
    "BUTTONS",
    "COMMANDS",
    "COMMANDS_BY_NAME",
    "READ_ONLY_BUTTONS",
    "ButtonHandler",
    "Command",
    "CommandContext",
    "Handler",
    "PreviewWatcher",
    "Reply",
    "Services",
    "add_region_rule",
    "mute_button",
    "place_label",
    "region_button",
    "region_expression",
    "syntax_error_reply",
]

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
    Command("search", cmd_search, Role.MEMBER, False,
            "/search <query> [since 7d] [until 2026-11-05]",
            "search every stored post (the rule language)"),
    Command("export", cmd_export, Role.MEMBER, False,
            "/export csv|jsonl [query] [since 7d] [until 2026-11-05]",
            "the matching posts as a file"),
    Command("similar", cmd_similar, Role.MEMBER, False, "/similar (a reply to an alert)",
            "stored posts with the alert's picture"),
    Command("stats", cmd_stats, Role.MEMBER, False,
            "/stats [rule <n> | region <x> | @channel | <query>] [24h|7d|30d|90d]",
            "a chart of matching posts per hour or day, by channel"),
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
    Command("top", cmd_top, Role.MEMBER, False, "/top [24h|7d] [query]",
            "the most viewed and most forwarded posts, and their growth"),
    Command("quiet", cmd_quiet, Role.MEMBER, False, "/quiet 23:00-07:00 | off",
            "hold alerts during quiet hours", changes=True),
    Command("translate", cmd_translate, Role.MEMBER, False, "/translate en | off",
            "add a translation under alerts", changes=True),
    Command("media", cmd_media, Role.MEMBER, False, "/media on | off",
            "alerts as the post's photo with a caption", changes=True),
    Command("webhook", cmd_webhook, Role.MEMBER, False,
            "/webhook add <url> [json|slack|discord|ntfy] | list | delete <n> | test",
            "also POST alerts to a URL", changes=True),
    Command("tz", cmd_tz, Role.MEMBER, False, "/tz Europe/Kyiv", "this chat's time zone",
            changes=True),
    Command("watch", cmd_watch, Role.ADMIN, True, "/watch @name [since YYYY-MM-DD | preview]",
            "watch a channel (preview: through its web preview, no join)"),
    Command("unwatch", cmd_unwatch, Role.ADMIN, True, "/unwatch @name", "stop watching"),
    Command("channels", cmd_channels, Role.ADMIN, True, "/channels", "watched channels"),
    Command("health", cmd_health, Role.ADMIN, True, "/health",
            "reading, catching up, delivering: is it all working"),
    Command("allow", cmd_allow, Role.ADMIN, True, "/allow <user id>", "grant access"),
    Command("deny", cmd_deny, Role.ADMIN, True, "/deny <user id>", "withdraw access"),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}
