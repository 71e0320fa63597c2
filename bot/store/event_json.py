"""The JSON an alert's event is stored as (outbox.event), and "also in" entries (outbox.also).

Readable on purpose: the archive is browsed with sqlite3 and Datasette. A field added later
must have a default here, so that rows queued by an earlier version still load.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bot.clock import from_iso, to_iso
from bot.events import AlertChannel, AlertEvent, AlertPost, AlsoEntry, AlsoIn, FiredRule


def event_json(event: AlertEvent) -> str:
    """An alert's event as the JSON stored with its outbox rows."""
    post, channel = event.post, event.channel
    return json.dumps({
        "chat_id": event.chat_id, "key": event.key, "found_at": to_iso(event.found_at),
        "channel": {"id": channel.id, "username": channel.username, "title": channel.title},
        "post": {"id": post.message_id, "date": to_iso(post.date), "text": post.text,
                 "url": post.permalink, "views": post.views, "media": post.media,
                 "forwarded_from": post.forwarded_from, "edited": post.edited,
                 "grouped_id": post.grouped_id},
        "rules": [{"id": r.id, "number": r.number, "expression": r.expression}
                  for r in event.rules],
        "spans": [list(s) for s in event.spans],
        "places": list(event.places),
        "late_by": event.late_by.total_seconds() if event.late_by is not None else None,
        "edited_match": event.edited_match,
        **({"image_text": event.image_text} if event.image_text else {}),
    }, ensure_ascii=False)


def parse_event(raw: str | None) -> AlertEvent | None:
    """The event stored with an outbox row; None for rows queued before migration 0006."""
    if not raw:
        return None
    data: dict[str, Any] = json.loads(raw)
    channel, post = data["channel"], data["post"]
    late_by = data.get("late_by")
    return AlertEvent(
        chat_id=data["chat_id"], key=data["key"], found_at=from_iso(data["found_at"]),
        channel=AlertChannel(channel["id"], channel.get("username"), channel["title"]),
        post=AlertPost(
            message_id=post["id"], date=from_iso(post["date"]), text=post["text"],
            permalink=post["url"], views=post.get("views"), media=post.get("media"),
            forwarded_from=post.get("forwarded_from"), edited=bool(post.get("edited")),
            grouped_id=post.get("grouped_id")),
        rules=tuple(FiredRule(r["id"], r["number"], r["expression"]) for r in data["rules"]),
        spans=tuple((int(a), int(b)) for a, b in data.get("spans", ())),
        places=tuple(data.get("places", ())),
        late_by=dt.timedelta(seconds=late_by) if late_by is not None else None,
        edited_match=bool(data.get("edited_match")),
        image_text=str(data.get("image_text") or ""),
    )


def also_json(also: AlsoIn) -> str:
    """One "also in" entry, appended to outbox.also with json_insert."""
    return json.dumps({"name": also.name, "url": also.url}, ensure_ascii=False)


def parse_also(raw: str | None) -> tuple[AlsoEntry, ...]:
    """An alert's "also in" entries; strings are HTML labels stored by an older version."""
    entries = json.loads(raw or "[]")
    return tuple(e if isinstance(e, str) else AlsoIn(e["name"], e["url"]) for e in entries)
