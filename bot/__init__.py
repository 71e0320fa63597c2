"""chanwatch: a self-hosted Telegram channel monitor."""

__version__ = "0.1.0"
