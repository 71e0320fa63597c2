from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from telethon.extensions import html as tl_html

from bot.models import Post, Rule
from bot.render import highlight, render_alert, split_lines

RULE = Rule(1, 500, 3, "<b>Белгород</b>", "instant",
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def post(text: str) -> Post:
    return Post(777, 12, dt.datetime(2026, 11, 25, 10, 5, tzinfo=dt.UTC), text,
                "https://t.me/kanal/12")


def test_everything_from_the_post_is_escaped() -> None:
    text = 'Белгород <a href="https://evil.example">click</a> & <b>bold</b>'
    html = render_alert(channel_title="<i>Канал</i> & Co", post=post(text), spans=[(0, 8)],
                        rules=[RULE], tz=ZoneInfo("UTC"))
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
    html = render_alert(channel_title="Канал", post=post("Сбит беспилотник над Белгородом"),
                        spans=[(21, 31)], rules=[RULE], tz=ZoneInfo("Europe/Kyiv"))
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
    html = render_alert(channel_title="К", post=post("слово"), spans=[(0, 5)], rules=[rule],
                        tz=ZoneInfo("UTC"))
    assert html.splitlines()[-1].endswith("…</code>") and len(html.splitlines()[-1]) < 110
