from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from telethon.extensions import html as tl_html

from bot.events import AlsoIn
from bot.models import Post, Rule
from bot.render import (
    alert_buttons,
    highlight,
    render_alert,
    render_summary,
    split_lines,
    webhook_event,
)
from tests.support.events import alert_event

RULE = Rule(1, 500, 3, "<b>Белгород</b>", "instant",
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def post(text: str) -> Post:
    return Post(777, 12, dt.datetime(2026, 11, 25, 10, 5, tzinfo=dt.UTC), text,
                "https://t.me/kanal/12")


def test_everything_from_the_post_is_escaped() -> None:
    text = 'Белгород <a href="https://evil.example">click</a> & <b>bold</b>'
    html = render_alert(alert_event(post(text), title="<i>Канал</i> & Co", spans=[(0, 8)],
                                    rules=[RULE]), ZoneInfo("UTC"))
    assert "<a href=\"https://evil.example\">" not in html
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;click&lt;/a&gt; &amp; " in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;i&gt;Канал&lt;/i&gt; &amp; Co" in html
    # What Telegram shows: the post's markup as literal text, only our own entities.
    plain, entities = tl_html.parse(html)
    assert '<a href="https://evil.example">click</a> & <b>bold</b>' in plain
    urls = [e.url for e in entities if hasattr(e, "url")]
    assert urls == ["https://t.me/kanal/12"]


def test_alert_layout_time_zone_and_rule() -> None:
    html = render_alert(alert_event(post("Сбит беспилотник над Белгородом"), title="Канал",
                                    spans=[(21, 31)], rules=[RULE]), ZoneInfo("Europe/Kyiv"))
    lines = html.split("\n")
    assert lines[0] == "🔔 <b>Канал</b> · 2026-11-25 12:05 EET"
    assert lines[1] == "Сбит беспилотник над <b>Белгородом</b>"
    assert lines[2] == '<a href="https://t.me/kanal/12">https://t.me/kanal/12</a>'
    assert lines[3] == "Rule #3 <code>&lt;b&gt;Белгород&lt;/b&gt;</code>"


def test_long_post_snippet_keeps_the_match_and_marks_cuts() -> None:
    text = "а" * 1000 + " Белгород " + "б" * 1000
    snippet = highlight(text, [(1001, 1009)])
    assert "<b>Белгород</b>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 800


def test_overlapping_spans_merge() -> None:
    assert highlight("abcdef", [(0, 3), (2, 5)]) == "<b>abcde</b>f"


def test_long_replies_are_split_between_lines() -> None:
    lines = [f"• <b>Канал {i}</b> @chan_{i} — 10 posts" for i in range(300)]
    parts = split_lines("\n".join(lines))
    assert len(parts) > 1 and all(len(p) <= 4000 for p in parts)
    assert "\n".join(parts).split("\n") == lines
    assert all(p.count("<b>") == p.count("</b>") for p in parts)
    assert split_lines("x" * 9000) == ["x" * 4000, "x" * 4000, "x" * 1000]
    assert split_lines("short") == ["short"]


def test_long_rule_expressions_are_shortened_in_alerts() -> None:
    rule = Rule(1, 500, 3, "слово " * 60, "instant", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    html = render_alert(alert_event(post("слово"), title="К", spans=[(0, 5)], rules=[rule]),
                        ZoneInfo("UTC"))
    assert html.splitlines()[-1].endswith("…</code>") and len(html.splitlines()[-1]) < 110


def test_what_is_known_at_send_time_goes_under_the_head_in_order() -> None:
    event = alert_event(post("Сбит беспилотник"), title="Канал", spans=[(5, 16)],
                        rules=[RULE], late_by=dt.timedelta(minutes=12), places=["Шебекино"])
    html = render_alert(event, ZoneInfo("UTC"), deleted=True,
                        queued_for=dt.timedelta(minutes=3),
                        also=[AlsoIn("@mash", "https://t.me/mash/5"), AlsoIn("B&B", "https://x/1")],
                        translation="\n🌐 <b>EN</b>: <i>Drone shot down</i>")
    assert html.splitlines() == [
        "🔔 <b>Канал</b> · 2026-11-25 10:05 UTC",
        "🗑 <i>deleted from the channel before this alert was sent</i>",
        "⏳ <i>sent 3 min after it was found (delivery queue)</i>",
        "⏱ <i>12 min late: found when catching up</i>",
        "📍 Шебекино",
        "Сбит <b>беспилотник</b>",
        '<a href="https://t.me/kanal/12">https://t.me/kanal/12</a>',
        "Rule #3 <code>&lt;b&gt;Белгород&lt;/b&gt;</code>",
        '↪ also in <a href="https://t.me/mash/5">@mash</a>, <a href="https://x/1">B&amp;B</a>',
        "🌐 <b>EN</b>: <i>Drone shot down</i>",
    ]
    edited = render_alert(alert_event(post("слово"), edited_match=True), ZoneInfo("UTC"))
    assert edited.splitlines()[1] == "✏️ <i>edited: the new text matches</i>"


def test_fold_line_and_buttons_come_from_the_event() -> None:
    event = alert_event(post("Первая строка\nвторая"), title="Канал", spans=[(0, 6)],
                        rules=[RULE])
    line = render_summary(event, ZoneInfo("Europe/Kyiv"), deleted=True,
                          also=[AlsoIn("@mash", "https://t.me/mash/5")])
    assert line == ("• <b>Канал</b> 12:05 — <b>Первая</b> строка вторая"
                    ' <a href="https://t.me/kanal/12">open</a> (#3)'
                    '\n↪ also in <a href="https://t.me/mash/5">@mash</a>'
                    " — 🗑 <i>deleted from the channel before this alert was sent</i>")
    (mute_1h, mute_24h), (open_post,) = alert_buttons(event)
    assert (mute_1h.text, mute_1h.data) == ("🔕 Mute rule 1h", "mute:1:1h")
    assert (mute_24h.text, mute_24h.data) == ("🔕 24h", "mute:1:24h")
    assert (open_post.text, open_post.url) == ("Open post ↗", "https://t.me/kanal/12")


def test_webhook_event_reads_the_same_event() -> None:
    found = dt.datetime(2026, 11, 25, 10, 17, tzinfo=dt.UTC)
    event = alert_event(post("Дроны над Шебекино"), 500, title="Канал", spans=[(0, 5), (10, 18)],
                        rules=[RULE], places=["Шебекино"], late_by=dt.timedelta(minutes=12),
                        found_at=found)
    assert webhook_event(event) == {
        "version": 1, "type": "alert", "id": "500:post:777:12", "chat_id": 500,
        "sent_at": "2026-11-25T10:17:00+00:00",
        "channel": {"id": 777, "username": None, "title": "Канал"},
        "post": {"id": 12, "url": "https://t.me/kanal/12", "date": "2026-11-25T10:05:00+00:00",
                 "text": "Дроны над Шебекино", "views": None, "media": None,
                 "forwarded_from": None, "edited": False},
        "rules": [{"number": 3, "expression": "<b>Белгород</b>"}],
        "matched": ["Дроны", "Шебекино"], "places": ["Шебекино"],
        "late": "⏱ 12 min late: found when catching up",
    }
    assert webhook_event(event, deleted=True)["deleted_before_sent"] is True
    edited = webhook_event(alert_event(post("x"), edited_match=True))
    assert edited["late"] == "✏️ edited: the new text matches"  # as payload v1 always said
