"""Small argument parsers shared by handlers (pure)."""

from __future__ import annotations

from bot.models import RuleMode


def rule_number(raw: str) -> int | None:
    """``3`` or ``#3`` → 3; anything else → None."""
    raw = raw.strip().lstrip("#")
    return int(raw) if raw.isdigit() else None


def rule_mode(raw: str) -> RuleMode | None:
    """``instant``, ``digest`` or ``both`` (any case) → the mode; anything else → None."""
    try:
        return RuleMode(raw.strip().lower())
    except ValueError:
        return None


def user_id(raw: str) -> int | None:
    """A positive numeric Telegram user id, or None."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None
