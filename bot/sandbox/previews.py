"""Channel web previews as t.me/s shows them: the page model and its HTML.

``PreviewChannel`` holds a channel's messages (``PreviewPost``) and pages them like t.me/s
(``PAGE`` at a time); ``channel_page``, ``widget`` and ``landing_page`` render the HTML that
``web.WebStandIn`` serves.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PAGE = 20  # messages on one t.me/s page


@dataclass
class PreviewPost:
    """One message of a channel; ``text`` is the inner HTML of its text block."""

    id: int
    date: dt.datetime
    text: str = ""
    views: str = "1.2K"
    forwarded: tuple[str | None, str] | None = None  # (link or None, shown name)
    edited: bool = False
    media: str | None = None  # photo, video, document, voice, poll, sticker
    service: bool = False  # "Channel photo updated" and the like


@dataclass
class PreviewChannel:
    """A public channel as its web preview shows it."""

    name: str
    title: str
    posts: list[PreviewPost] = field(default_factory=list)
    preview: bool = True  # False: /s/<name> redirects to /<name>
    ignore_after: bool = False  # answer ?after= like /s/<name> (the newest page)
    start: dt.datetime = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    filler: tuple[str, ...] = ("Сводка новостей",)  # the texts ``add_many`` cycles through

    def add(self, text: str = "", *, gap: int = 0, date: dt.datetime | None = None,
            **fields: Any) -> PreviewPost:
        """Publish a message (``text`` is HTML); ``gap`` ids are skipped first (deleted
        messages). Without ``date`` it is ``start`` plus a minute per id."""
        last = self.posts[-1].id if self.posts else 0
        when = date if date is not None else self.start + dt.timedelta(minutes=last + gap)
        post = PreviewPost(id=last + 1 + gap, date=when, text=text, **fields)
        self.posts.append(post)
        return post

    def add_text(self, text: str, **fields: Any) -> PreviewPost:
        """Publish a message of plain text: escaped, line breaks as ``<br/>``."""
        return self.add(html.escape(text).replace("\n", "<br/>"), **fields)

    def add_many(self, count: int, template: str = "{sample} (сводка №{id})") -> list[PreviewPost]:
        """Publish ``count`` plain posts, cycling through ``filler``."""
        out = []
        for _ in range(count):
            next_id = (self.posts[-1].id if self.posts else 0) + 1
            sample = self.filler[next_id % len(self.filler)]
            out.append(self.add(html.escape(template.format(sample=sample, id=next_id))))
        return out

    def page(self, query: dict[str, int]) -> tuple[list[PreviewPost], bool]:
        """The messages of a page and whether older ones exist (like t.me/s)."""
        posts = sorted(self.posts, key=lambda p: p.id)
        if "before" in query:
            chosen = [p for p in posts if p.id < query["before"]][-PAGE:]
        elif "after" in query and not self.ignore_after:
            chosen = [p for p in posts if p.id > query["after"]][:PAGE]
        else:
            chosen = posts[-PAGE:]
        older = bool(chosen) and posts[0].id < chosen[0].id
        return chosen, older

def widget(channel: PreviewChannel, post: PreviewPost) -> str:
    """One message as t.me/s renders it."""
    name = channel.name
    link = f"https://t.me/{name}/{post.id}"
    kind = "service_message" if post.service else "text_not_supported_wrap"
    parts = ['<div class="tgme_widget_message_wrap js-widget_message_wrap">'
             f'<div class="tgme_widget_message {kind}'
             f' js-widget_message" data-post="{name}/{post.id}" data-view="x{post.id}"'
             f' data-post-id="{post.id}"><div class="tgme_widget_message_bubble">',
             '<div class="tgme_widget_message_author accent_color">'
             f'<a class="tgme_widget_message_owner_name" href="https://t.me/{name}">'
             f'<span dir="auto">{html.escape(channel.title)}</span></a></div>']
    if post.forwarded:
        href, shown = post.forwarded
        inner = f'<span dir="auto">{html.escape(shown)}</span>'
        parts.append('<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
                     + (f'<a class="tgme_widget_message_forwarded_from_name" href="{href}">'
                        f'{inner}</a>' if href else
                        f'<span class="tgme_widget_message_forwarded_from_name">{inner}</span>')
                     + "</div>")
    parts.append(_media(post, link))
    if post.text:
        parts.append(f'<div class="tgme_widget_message_text js-message_text" dir="auto">'
                     f"{post.text}</div>")
    edited = '<span class="tgme_widget_message_meta">edited </span>' if post.edited else ""
    views = "" if post.service else (f'<span class="tgme_widget_message_views">{post.views}'
                                     '</span><span class="copyonly"> views</span>')
    parts.append('<div class="tgme_widget_message_footer compact js-message_footer">'
                 '<div class="tgme_widget_message_info short js-message_info">'
                 f'{views}<span class="tgme_widget_message_meta">{edited}'
                 f'<a class="tgme_widget_message_date" href="{link}">'
                 f'<time datetime="{post.date.isoformat()}" class="time">'
                 f'{post.date:%H:%M}</time></a></span></div></div>')
    parts.append("</div></div></div>")
    return "".join(parts)


def _media(post: PreviewPost, link: str) -> str:
    if post.media == "photo":
        return (f'<a class="tgme_widget_message_photo_wrap 1 2" href="{link}" style="width:800px;'
                f"background-image:url('https://cdn4.telesco.pe/file/{post.id}.jpg')\">"
                '<div class="tgme_widget_message_photo" style="padding-top:75%"></div></a>')
    if post.media == "video":
        return (f'<a class="tgme_widget_message_video_player js-message_video_player"'
                f' href="{link}"><time class="message_video_duration">0:15</time></a>')
    if post.media == "document":
        return ('<div class="tgme_widget_message_document_wrap"><a class="tgme_widget_message_'
                f'document" href="{link}"><div class="tgme_widget_message_document_title">'
                "file.pdf</div></a></div>")
    if post.media == "voice":
        return ('<div class="tgme_widget_message_voice_player js-message_voice_player">'
                '<time class="tgme_widget_message_voice_duration">0:07</time></div>')
    if post.media == "poll":
        return ('<div class="tgme_widget_message_poll js-poll"><div class="tgme_widget_message_'
                'poll_question">Вы за?</div></div>')
    if post.media == "sticker":
        return (f'<a class="tgme_widget_message_sticker_wrap" href="{link}"><i class="tgme_'
                'widget_message_sticker"></i></a>')
    return ""


def channel_page(channel: PreviewChannel, posts: Sequence[PreviewPost], older: bool) -> str:
    """A whole t.me/s page: header, message list (oldest first), channel info."""
    title = html.escape(channel.title)
    more = (f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/'
            f'{channel.name}?before={posts[0].id}" data-before="{posts[0].id}" class="tme_'
            'messages_more js-messages_more"></a></div>') if older and posts else ""
    body = "\n".join(widget(channel, p) for p in posts)
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title} – Telegram</title>
    <meta property="og:title" content="{title}">
  </head>
  <body class="widget_frame_base tgme_webpreview emoji_image no_transitions">
    <header class="tgme_header search_collapsed"><div class="tgme_header_info">
      <a class="tgme_header_link" href="https://t.me/{channel.name}">
      <div class="tgme_header_title"><span dir="auto">{title}</span></div></a></div></header>
    <main class="tgme_main">
      <div class="tgme_container">
        <section class="tgme_channel_history js-message_history">
{more}
{body}
        </section>
      </div>
      <div class="tgme_right_column"><section class="tgme_channel_info">
        <div class="tgme_channel_info_header">
          <div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>
          <div class="tgme_channel_info_header_username"><a href="https://t.me/{channel.name}">@{channel.name}</a></div>
        </div></section></div>
    </main>
  </body>
</html>
"""


def landing_page(channel: PreviewChannel) -> str:
    """The ``t.me/<name>`` page a chat without a public preview redirects to."""
    title = html.escape(channel.title)
    return (f"<!DOCTYPE html><html><head><title>Telegram: Contact @{channel.name}</title></head>"
            '<body><div class="tgme_page_wrap"><div class="tgme_body_wrap"><div class="tgme_page">'
            f'<div class="tgme_page_title"><span dir="auto">{title}</span></div>'
            '<div class="tgme_page_action"><a class="tgme_action_button_new shine"'
            f' href="tg://resolve?domain={channel.name}">View in Telegram</a></div>'
            "</div></div></div></body></html>")
