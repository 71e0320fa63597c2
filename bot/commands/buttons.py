"""Inline buttons: "🔕 Mute" under an alert, the places offered by /region, "More ▸" of /search.

Each takes the button's callback data (``kind:value…``) and returns (short answer, new text
for the message or None). Who may press them is checked in bot/guard.py.
"""

from __future__ import annotations

import datetime as dt

from bot.commands.context import ButtonHandler, CommandContext, Services
from bot.commands.regions import add_region_rule
from bot.commands.replies import BUTTON_EXPIRED
from bot.commands.search import more_button

MUTE_SPANS = {"1h": 1, "24h": 24}  # hours


async def mute_button(ctx: CommandContext, svc: Services, data: str) -> tuple[str, str | None]:
    """The "mute 1h / 24h" buttons under an alert (``mute:<rule ids>:<span>``)."""
    _, ids, span = [*data.split(":"), "", ""][:3]
    hours = MUTE_SPANS.get(span)
    rule_ids = [int(i) for i in ids.split(",") if i.isdigit()]
    if hours is None or not rule_ids:
        return BUTTON_EXPIRED, None
    until = svc.clock.now() + dt.timedelta(hours=hours)
    rules = await svc.rules.mute_ids(ctx.chat_id, rule_ids, until)
    if not rules:
        return "That rule no longer exists.", None
    names = ", ".join(f"#{r.number}" for r in rules)
    return f"🔕 {names} muted for {hours} h (/unmute to undo)", None


async def region_button(ctx: CommandContext, svc: Services,
                        data: str) -> tuple[str, str | None]:
    """A place chosen under "Which one do you mean?" (``region:<place id>``): its rule."""
    value = data.partition(":")[2]
    places = svc.rules.places
    if places is None or value not in places.gazetteer.places:
        return BUTTON_EXPIRED, None
    text = await add_region_rule(ctx, svc, places.gazetteer.places[value])
    return ("Saved" if text.startswith("✅") else "Not saved"), text


BUTTONS: dict[str, ButtonHandler] = {"region": region_button, "mute": mute_button,
                                     "search": more_button}
# buttons that change nothing: in a group, every member may press them
READ_ONLY_BUTTONS = frozenset({"search"})
