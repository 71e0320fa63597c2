"""Rows of the SQLite schema → the dataclasses of bot/models.py (and back, for buttons)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from bot.clock import from_iso
from bot.events import Alert, StoredAlert
from bot.models import (
    Buttons,
    ButtonSpec,
    Channel,
    ChannelSource,
    ChannelStatus,
    Chat,
    ChatKind,
    ChatStatus,
    OutboxKind,
    Post,
    Rule,
    RuleMode,
    Webhook,
    WebhookFormat,
)
from bot.store.event_json import parse_also, parse_event
from bot.store.records import (
    AlertMessage,
    DigestMessage,
    EditMessage,
    FoldMessage,
    NoticeMessage,
    OutboxMessage,
    WebhookDelivery,
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
        # (a database migrated only part of the way, in the migration tests, lacks it)
        media_alerts="media_alerts" in row.keys() and bool(row["media_alerts"]),
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


def stored_alert(event: str | None, html: str, buttons: str | None,
                 summary: str | None = None) -> Alert:
    """An alert row's event; for a row queued before 0006, the HTML it was queued with."""
    return parse_event(event) or StoredAlert(html, parse_buttons(buttons), summary or "")


def to_outbox_message(r: sqlite3.Row) -> OutboxMessage:
    """A due outbox row (``OutboxRepository.due``'s joins) as the type of its kind."""
    kind = OutboxKind(r["kind"])
    ids = {"id": r["id"], "chat_id": r["chat_id"], "random_id": r["random_id"],
           "attempts": r["attempts"]}
    deleted = r["post_deleted_at"] is not None
    if kind is OutboxKind.WEBHOOK:
        return WebhookDelivery(
            **ids, webhook_id=r["webhook_id"], url=r["webhook_url"],
            format=WebhookFormat(r["webhook_format"] or WebhookFormat.JSON),
            alert=parse_event(r["event"]), payload=r["payload"], post_deleted=deleted)
    chat_kind = ChatKind(r["chat_kind"])
    if kind is OutboxKind.ALERT:
        return AlertMessage(
            **ids, chat_kind=chat_kind,
            alert=stored_alert(r["event"], r["payload"], r["buttons"]),
            created_at=from_iso(r["created_at"]), also=parse_also(r["also"]), tz=r["tz"],
            post_id=r["post_id"], post_text=r["post_text"], post_deleted=deleted,
            translate_lang=r["translate_lang"], media_alerts=bool(r["media_alerts"]))
    if kind is OutboxKind.EDIT:  # the alert it edits supplies text, buttons and message id
        return EditMessage(
            **ids, chat_kind=chat_kind,
            alert=stored_alert(r["ref_event"], r["ref_payload"] or "", r["ref_buttons"]),
            message_id=r["ref_message_id"], also=parse_also(r["ref_also"]), tz=r["tz"],
            **_as_sent(r))
    if kind is OutboxKind.DIGEST:
        return DigestMessage(**ids, chat_kind=chat_kind, html=r["payload"],
                             chart=r["attachment"])
    if kind is OutboxKind.FOLD:
        return FoldMessage(**ids, chat_kind=chat_kind, html=r["payload"])
    return NoticeMessage(**ids, chat_kind=chat_kind, html=r["payload"])


def _as_sent(r: sqlite3.Row) -> dict[str, Any]:
    """What the alert an edit changes said when it was sent (its wait, a deletion before)."""
    created, sent, deleted = (opt_dt(r["ref_created_at"]), opt_dt(r["ref_sent_at"]),
                              opt_dt(r["ref_post_deleted_at"]))
    return {"waited": sent - created if sent and created else None,
            "deleted_before_sent": bool(deleted and sent and deleted <= sent),
            "post_id": r["ref_post_id"], "post_text": r["ref_post_text"],
            "translate_lang": r["translate_lang"], "sent_as_photo": r["ref_sent_as"] == "photo"}


def to_webhook(r: sqlite3.Row) -> Webhook:
    return Webhook(r["id"], r["chat_id"], r["number"], r["url"], WebhookFormat(r["format"]),
                   r["status"], r["last_error"])

