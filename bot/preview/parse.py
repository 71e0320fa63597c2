"""A public channel's web preview page (``https://t.me/s/<name>``) → ``Post`` objects.

The page lists up to 20 messages, oldest first, each a ``.tgme_widget_message`` with
``data-post="<name>/<id>"``. What is read from each (and how), so that a post reads the same
whichever way it reached chanwatch:

* ``text``: ``.tgme_widget_message_text`` as shown. ``<br>`` becomes a line break; links keep
  only their visible text (``<a href="https://x.ru">статья</a>`` → ``статья``, a bare URL stays
  the URL, ``@mention`` and ``#hashtag`` stay as written). That is exactly ``message.message``
  of the live source, whose hidden link targets live in entities, not in the text: rules,
  search, edits and cross-channel fingerprints treat a post alike from either source.
* ``date``: ``time[datetime]`` of the message's date link, as aware UTC. A widget without one
  in the middle of a page takes the date of the next post (posts are in time order); widgets
  without one at the end of a page are where a truncated page was cut, and are dropped.
* ``views``: ``.tgme_widget_message_views`` ("987", "1.2K" → 1200, "3.4M" → 3400000).
* ``fwd_from``: ``.tgme_widget_message_forwarded_from_name``. The page has no numeric ids, so
  an origin is named by its public username: ``https://t.me/other/55`` →
  ``name:@other/55``, ``https://t.me/other`` → ``name:@other``; a private channel's
  ``https://t.me/c/<id>/<msg>`` → ``channel:<id>/<msg>`` (the live source's form, so the story
  key is shared); no link (a hidden user) → ``name:<shown name>``.
* ``media``: the live source's names: photo, video, voice, audio, sticker, poll, geo,
  contact, document, webpage (a link preview), other (not displayable on the web).
* ``edit_date``: the page only says "edited", not when: ``edit_date = date`` marks it.
* ``reply_to``: the id of the replied-to post of the same channel.
* ``permalink``: ``https://t.me/<name>/<id>`` whatever address the page was read from.

Service messages (``service_message``: pinned, title changed, …) are no posts: they count as
seen (``newest_id``) but are not returned, like the live source. Nothing here raises on bad
input: garbage gives a page without posts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.models import Post

log = logging.getLogger(__name__)
PAGE_SIZE = 20  # messages Telegram puts on one t.me/s page
_POST_RE = re.compile(r"^\s*([A-Za-z0-9_]+)/(\d{1,12})\s*$")
_VIEWS_RE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([KMB]?)$", re.IGNORECASE)
_VIEWS_SCALE = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_TME_HOSTS = {"t.me", "telegram.me", "www.t.me", "telegram.dog"}
_EDITED_RE = re.compile(r"\bedited\b", re.IGNORECASE)
_BLOCKS = {"blockquote", "pre", "div", "p"}  # shown on lines of their own
_MEDIA = (  # first match wins: the widget's own media, not a link preview's picture
    (".tgme_widget_message_sticker_wrap, .tgme_widget_message_tgsticker,"
     " .tgme_widget_message_videosticker", "sticker"),
    (".tgme_widget_message_voice_player, .tgme_widget_message_voice", "voice"),
    (".tgme_widget_message_roundvideo_player", "video"),
    (".tgme_widget_message_video_player", "video"),
    (".tgme_widget_message_photo_wrap", "photo"),
    (".tgme_widget_message_audio, .tgme_widget_message_document_wrap.audio", "audio"),
    (".tgme_widget_message_document_wrap, .tgme_widget_message_document", "document"),
    (".tgme_widget_message_poll", "poll"),
    (".tgme_widget_message_location_wrap, .tgme_widget_message_venue_wrap", "geo"),
    (".tgme_widget_message_contact_wrap, .tgme_widget_message_contact", "contact"),
    (".tgme_widget_message_link_preview", "webpage"),
    (".message_media_not_supported_wrap, .message_media_not_supported", "other"),
)
_LANDING = ".tgme_page, .tgme_page_title, .tgme_action_button_new"  # t.me/<name>, not /s/
_HEADER = ".tgme_channel_info, .tgme_channel_info_header_title, .tgme_header_title"


@dataclass(frozen=True)
class PreviewPage:
    """What one web preview page holds."""

    posts: list[Post]  # oldest first, ids strictly increasing, deduplicated
    title: str | None  # channel title from the page header, if present
    disabled: bool  # redirected away from /s/, or a t.me/<name> page with no message list
    oldest_id: int | None  # smallest message id on the page (for ?before= paging)
    newest_id: int | None = None  # largest id of a complete message (service messages too)
    dropped: int = 0  # messages of a truncated page's cut-off tail, left out
    recognised: bool = True  # False: not a channel page at all (garbage, an error page)

    @property
    def full(self) -> bool:
        """Whether the page spans a whole page of ids, so more may follow it."""
        if self.oldest_id is None or self.newest_id is None:
            return False
        return self.newest_id - self.oldest_id + 1 >= PAGE_SIZE


EMPTY_PAGE = PreviewPage(posts=[], title=None, disabled=False, oldest_id=None,
                         recognised=False)


def clean_username(username: str) -> str:
    """``@Name`` → ``Name``: the form used in URLs, permalinks and ``channel_username``."""
    return username.strip().removeprefix("@")


def preview_channel_id(username: str) -> int:
    """A stable synthetic channel id for a channel read through its web preview.

    The page shows no numeric Telegram id, so the id is derived from the lower-cased username:
    negative (real channel ids are positive), 48 bits of BLAKE2b, the same on every instance.
    """
    name = clean_username(username).lower().encode()
    return -(int.from_bytes(hashlib.blake2b(name, digest_size=6).digest(), "big") + 1)


def parse_views(text: str) -> int | None:
    """``"987"`` → 987, ``"1.2K"`` → 1200, ``"3.4M"`` → 3400000; None if unreadable."""
    match = _VIEWS_RE.match(text.strip())
    if not match:
        return None
    try:
        number = Decimal(match.group(1).replace(",", "."))
    except InvalidOperation:
        return None
    return int(number * _VIEWS_SCALE[match.group(2).upper()])


def parse_page(html: str, username: str, channel_id: int) -> PreviewPage:
    """Read a t.me/s page of channel ``username`` (stored under ``channel_id``).

    Never raises: a page that is garbage gives ``posts=[]`` and ``recognised=False``; a
    truncated one gives the posts before the cut (``dropped`` counts what was cut off).
    """
    try:
        return _parse(html, clean_username(username), channel_id)
    except Exception:  # a parser bug must not stop the poller: the page counts as malformed
        log.warning("cannot parse the preview page of @%s", username, exc_info=True)
        return EMPTY_PAGE


@dataclass
class _Item:
    """One message widget, read up to its date."""

    node: LexborNode
    message_id: int
    date: dt.datetime | None
    service: bool
    members: tuple[int, ...]  # ids of an album's parts


def _parse(html: str, username: str, channel_id: int) -> PreviewPage:
    tree = LexborHTMLParser(html)
    items = [item for node in tree.css(".tgme_widget_message[data-post]")
             if (item := _item(node)) is not None]
    title = _title(tree)
    if not items:
        listed = tree.css_first(".tgme_channel_history") is not None
        landing = tree.css_first(_LANDING) is not None
        disabled = not listed and title is None and landing
        return PreviewPage(posts=[], title=title, disabled=disabled, oldest_id=None,
                           recognised=listed or title is not None or landing)
    dated = [i for i, item in enumerate(items) if item.date is not None]
    cut = dated[-1] + 1 if dated else 0  # after the last dated widget: a truncated page's cut
    dropped = len(items) - cut
    posts: list[Post] = []
    ids: list[int] = []
    next_date: dt.datetime | None = None
    for index in range(cut - 1, -1, -1):  # newest first: a dateless widget takes the next date
        item = items[index]
        date = item.date or next_date
        next_date = date
        assert date is not None  # items[cut - 1] has a date
        if item.service:
            ids.append(item.message_id)
            continue
        try:
            post = _post(item, date, username, channel_id)
        except Exception:  # an odd widget: the page counts as cut before it
            log.warning("unreadable message %s/%d on its preview page", username,
                        item.message_id, exc_info=True)
            posts, ids, dropped = [], [], len(items) - index
            continue
        posts.append(post)
        ids += [item.message_id, *item.members]
    posts = list({p.message_id: p for p in sorted(posts, key=lambda p: p.message_id)}.values())
    if dropped:
        log.info("the preview page of @%s was cut: %d messages left out", username, dropped)
    return PreviewPage(posts=posts, title=title, disabled=False,
                       oldest_id=min(ids) if ids else None,
                       newest_id=max(ids) if ids else None, dropped=dropped)


def _item(node: LexborNode) -> _Item | None:
    match = _POST_RE.match(node.attributes.get("data-post") or "")
    if not match or int(match.group(2)) <= 0:
        return None
    classes = (node.attributes.get("class") or "").split()
    members = tuple(m for a in node.css(".grouped_media_wrap[href]")
                    if (m := _tme_message_id(a.attributes.get("href"))) is not None)
    return _Item(node, int(match.group(2)), _date(node), "service_message" in classes, members)


def _date(node: LexborNode) -> dt.datetime | None:
    stamp = (node.css_first(".tgme_widget_message_date time[datetime]")
             or node.css_first(".tgme_widget_message_info time[datetime]"))
    if stamp is None:
        return None
    try:
        value = dt.datetime.fromisoformat(stamp.attributes.get("datetime") or "")
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _title(tree: LexborHTMLParser) -> str | None:
    for selector in (".tgme_channel_info_header_title", ".tgme_header_title"):
        node = tree.css_first(selector)
        if node is not None and (text := node.text(strip=True)):
            return " ".join(text.split())
    return None


def _post(item: _Item, date: dt.datetime, username: str, channel_id: int) -> Post:
    node = item.node
    views = node.css_first(".tgme_widget_message_views")
    return Post(
        channel_id=channel_id,
        message_id=item.message_id,
        date=date,
        text=_text(node),
        permalink=f"https://t.me/{username}/{item.message_id}",
        views=parse_views(views.text()) if views is not None else None,
        fwd_from=_forwarded_from(node),
        reply_to=_reply_to(node, username),
        media=_media(node),
        edit_date=date if _edited(node) else None,
        channel_username=username,
    )


def _text(widget: LexborNode) -> str:
    for node in widget.css(".tgme_widget_message_text"):
        if not _inside(node, "tgme_widget_message_reply", widget):
            parts: list[str] = []
            _render(node, parts)
            return "".join(parts).strip()
    return ""


def _inside(node: LexborNode, cls: str, stop: LexborNode) -> bool:
    parent = node.parent
    while parent is not None and parent.mem_id != stop.mem_id:
        if cls in (parent.attributes.get("class") or "").split():
            return True
        parent = parent.parent
    return False


def _render(node: LexborNode, out: list[str]) -> None:
    """The text of ``node`` as shown: line breaks kept, links as their visible text."""
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            out.append(child.text_content or "")
        elif tag == "br":
            out.append("\n")
        elif tag in _BLOCKS:
            if out and not out[-1].endswith("\n"):
                out.append("\n")
            _render(child, out)
            if out and not out[-1].endswith("\n"):
                out.append("\n")
        elif tag not in ("script", "style", "-comment"):
            _render(child, out)


def _tme_path(href: str | None) -> list[str] | None:
    """The path parts of a t.me link, or None for any other address."""
    if not href:
        return None
    parts = urlsplit(href if "//" in href else f"https://{href}")
    if parts.netloc.lower() not in _TME_HOSTS:
        return None
    return [p for p in parts.path.split("/") if p]


def _tme_message_id(href: str | None) -> int | None:
    path = _tme_path(href)
    if path and len(path) >= 2 and path[-1].isdigit():
        return int(path[-1])
    return None


def _forwarded_from(widget: LexborNode) -> str | None:
    link = widget.css_first(".tgme_widget_message_forwarded_from_name")
    if link is None:
        box = widget.css_first(".tgme_widget_message_forwarded_from")
        if box is None:
            return None
        shown = box.text(strip=True).removeprefix("Forwarded from").strip()
        return f"name:{shown}" if shown else "hidden"
    path = _tme_path(link.attributes.get("href"))
    if path and path[0] == "c" and len(path) >= 3 and path[1].isdigit() and path[2].isdigit():
        return f"channel:{path[1]}/{path[2]}"  # a private channel: the live source's form
    if path and path[0] not in ("c", "s", "joinchat") and not path[0].startswith("+"):
        if len(path) >= 2 and path[1].isdigit():
            return f"name:@{path[0]}/{path[1]}"
        return f"name:@{path[0]}"
    shown = " ".join(link.text(strip=True).split())
    return f"name:{shown}" if shown else "hidden"


def _reply_to(widget: LexborNode, username: str) -> int | None:
    reply = widget.css_first("a.tgme_widget_message_reply[href]")
    if reply is None:
        return None
    path = _tme_path(reply.attributes.get("href"))
    if path and len(path) >= 2 and path[0].lower() == username.lower() and path[1].isdigit():
        return int(path[1])
    return None


def _media(widget: LexborNode) -> str | None:
    first = widget.css_first(".grouped_media_wrap")  # an album: named by its first part
    if first is not None:
        classes = (first.attributes.get("class") or "").split()
        return "video" if "tgme_widget_message_video_player" in classes else "photo"
    for selector, kind in _MEDIA:
        if widget.css_first(selector) is not None:
            return kind
    return None


def _edited(widget: LexborNode) -> bool:
    return any(_EDITED_RE.search(meta.text(deep=False))
               for meta in widget.css(".tgme_widget_message_meta"))
