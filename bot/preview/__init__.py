"""Channels followed through their public web preview (``https://t.me/s/<name>``), no join."""

from bot.preview.parse import (
    PreviewPage,
    parse_page,
    parse_views,
    preview_channel_id,
)
from bot.preview.poller import PreviewError, PreviewPoller

__all__ = [
    "PreviewError",
    "PreviewPage",
    "PreviewPoller",
    "parse_page",
    "parse_views",
    "preview_channel_id",
]
