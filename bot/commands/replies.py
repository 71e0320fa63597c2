"""Replies more than one handler gives, and every usage line, in one place (HTML)."""

from __future__ import annotations

from bot.match import RuleSyntaxError
from bot.render import esc

# ------------------------------------------------------------------ usage lines
USAGE_WATCH = ("Usage: /watch @name or /watch https://t.me/name [since 2026-11-01],"
               " or /watch @name preview (read its public web preview, no join)")
USAGE_UNWATCH = "Usage: /unwatch @name"
USAGE_ALERT = ("Usage: /alert &lt;rule&gt;, e.g. /alert Белгород беспилотник -учения"
               ' or /alert "сбит беспилотник"')
USAGE_TEST = "Usage: /test &lt;rule&gt; — try a rule on the posts stored so far"
USAGE_REGION = ("Usage: /region &lt;place&gt;, e.g. /region Белгородская область"
                " or /region Kupiansk")
USAGE_DELETE = "Usage: /delete &lt;n&gt; — the number shown by /rules"
USAGE_ONDELETE = ("Usage: /ondelete &lt;n&gt; on|off — tell this chat when an alerted post"
                  " is deleted")
USAGE_MODE = "Usage: /mode &lt;n&gt; instant|digest|both"
USAGE_MUTE = "Usage: /mute &lt;n&gt; [24h] — durations like 30m, 8h, 2d (default 24h)"
USAGE_UNMUTE = "Usage: /unmute &lt;n&gt;"
USAGE_DIGEST = ('Usage: /digest 08:00, /digest cron "0 8,20 * * *", /digest now,'
                " /digest off")
USAGE_WEBHOOK = ("Usage: /webhook add &lt;url&gt; [json|slack|discord|ntfy], /webhook list,"
                 " /webhook delete &lt;n&gt;, /webhook test")
USAGE_SEARCH = ("Usage: /search &lt;query&gt; [since 7d|2026-11-01] [until 2026-11-05] — the"
                " rule language, e.g. /search дрон* Шебекино since 7d")
USAGE_ALLOW = ("Usage: /allow &lt;numeric user id&gt; — a person sees their id when"
               " they write to me")
USAGE_DENY = "Usage: /deny &lt;numeric user id&gt;"

# ------------------------------------------------------------------ shared answers
BUTTON_EXPIRED = "This button has expired."


def warn(problem: Exception | str) -> str:
    """A refusal whose reason is fit to show: "⚠️ <reason>", escaped."""
    return f"⚠️ {esc(str(problem))}"


def no_rule(number: int) -> str:
    """Rule ``number`` does not exist (or was deleted) in this chat."""
    return f"No rule #{number} in this chat. /rules lists them."


def syntax_error_reply(exc: RuleSyntaxError) -> str:
    """Where a rule went wrong and what was expected, with a caret under the spot."""
    return (f"⚠️ Cannot understand the rule at character {exc.position + 1}:"
            f" {esc(exc.message)}\n<code>{esc(exc.pointer())}</code>")
