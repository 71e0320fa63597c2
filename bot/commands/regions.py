"""/region: alerts for a place and everything in it, by name, in any language."""

from __future__ import annotations

from bot.commands.context import CommandContext, Reply, Services
from bot.commands.replies import USAGE_REGION, warn
from bot.regions.gazetteer import Gazetteer, Place, PlaceLookupError, resolve
from bot.render import esc
from bot.services.rules import RuleLimitError

MAX_CHOICES = 8  # buttons under "Which one do you mean?"


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
        return warn(exc)
    return (f"✅ Rule #{rule.number} saved: <code>{esc(query.render())}</code> —"
            f" {esc(place_label(gazetteer, place))} and everything in it.")


async def cmd_region(ctx: CommandContext, svc: Services) -> str | Reply:
    """Subscribe to a place (region, raion, town) by name, in any language, typos allowed."""
    if svc.rules.places is None:
        return "⚠️ Regions are not available: the gazetteer is not loaded."
    if not ctx.args:
        return USAGE_REGION
    gazetteer = svc.rules.places.gazetteer
    try:
        place = resolve(gazetteer, ctx.args)
    except PlaceLookupError as exc:
        candidates = exc.candidates or gazetteer.fuzzy(ctx.args)
        if not candidates:
            return warn(exc)
        if len(candidates) == 1:
            return await add_region_rule(ctx, svc, candidates[0])
        return Reply(f"Which one do you mean by <b>{esc(ctx.args)}</b>?",
                     tuple((place_label(gazetteer, p), f"region:{p.id}")
                           for p in candidates[:MAX_CHOICES]))
    return await add_region_rule(ctx, svc, place)
