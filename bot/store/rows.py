"""Rows of the SQLite schema → the dataclasses of bot/models.py (and back, for buttons)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from bot.clock import from_iso
from bot.models import (
    Buttons,
    ButtonSpec,
    Channel,
    ChannelSource,
    ChannelStatus,
    Chat,
    ChatKind,
    ChatStatus,
    OutboxItem,
    Post,
    Rule,
    RuleMode,
    Webhook,
)


def opt_dt(value: str | None) -> dt.datetime | None:
    return from_iso(value) if value else None


def to_channel(row: sqlite3.Row) -> Channel:
    return Channel(
        id=row["id"],
        username=row["username"],
        title=row["title"],
        access_hash=row["access_hash"],
        cursor=row["cursor"],
        status=ChannelStatus(row["status"]),
        added_at=from_iso(row["added_at"]),
        last_error=row["last_error"],
        source=ChannelSource(row["source"]),
    )


def to_post(r: sqlite3.Row) -> Post:
    """A stored post (rows joined with channels carry its username)."""
    return Post(
        channel_id=r["channel_id"], message_id=r["message_id"], date=from_iso(r["date"]),
        text=r["text"], permalink=r["permalink"], views=r["views"], forwards=r["forwards"],
        fwd_from=r["fwd_from"], reply_to=r["reply_to"], grouped_id=r["grouped_id"],
        media=r["media"], edit_date=opt_dt(r["edit_date"]), channel_username=r["username"],
    )


def to_chat(row: sqlite3.Row) -> Chat:
    return Chat(
        id=row["id"], kind=ChatKind(row["kind"]), title=row["title"], tz=row["tz"],
        status=ChatStatus(row["status"]), quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        digest_cron=row["digest_cron"], digest_since=opt_dt(row["digest_since"]),
        translate_lang=row["translate_lang"],
    )


def to_rule(row: sqlite3.Row) -> Rule:
    return Rule(
        id=row["id"], chat_id=row["chat_id"], number=row["number"],
        expression=row["expression"], mode=RuleMode(row["mode"]),
        created_at=from_iso(row["created_at"]),
        notify_deleted=bool(row["notify_deleted"]), muted_until=opt_dt(row["muted_until"]),
    )


def buttons_json(buttons: Buttons) -> str | None:
    if not buttons:
        return None
    return json.dumps([[{k: v for k, v in (("text", b.text), ("data", b.data), ("url", b.url))
                         if v is not None} for b in row] for row in buttons],
                      ensure_ascii=False)


def parse_buttons(raw: str | None) -> Buttons:
    if not raw:
        return ()
    return tuple(tuple(ButtonSpec(b["text"], b.get("data"), b.get("url")) for b in row)
                 for row in json.loads(raw))


def to_outbox_item(r: sqlite3.Row) -> OutboxItem:
    common = {"chat_kind": ChatKind(r["chat_kind"]), "post_id": r["post_id"],
              "post_text": r["post_text"], "translate_lang": r["translate_lang"],
              "webhook_id": r["webhook_id"], "webhook_url": r["webhook_url"],
              "webhook_format": r["webhook_format"], "ref_id": r["ref_id"],
              "created_at": opt_dt(r["created_at"]),
              "post_deleted": r["post_deleted_at"] is not None}
    if r["kind"] == "edit":  # the message it edits supplies text, buttons and message id
        return OutboxItem(
            r["id"], r["chat_id"], r["kind"], r["ref_payload"] or "", r["random_id"],
            r["attempts"], buttons=parse_buttons(r["ref_buttons"]),
            also=tuple(json.loads(r["ref_also"] or "[]")), edit_message_id=r["ref_message_id"],
            **common)
    return OutboxItem(
        r["id"], r["chat_id"], r["kind"], r["payload"], r["random_id"], r["attempts"],
        buttons=parse_buttons(r["buttons"]), attachment=r["attachment"],
        also=tuple(json.loads(r["also"] or "[]")), **common)



def to_webhook(r: sqlite3.Row) -> Webhook:
    return Webhook(r["id"], r["chat_id"], r["number"], r["url"], r["format"], r["status"],
                   r["last_error"])

