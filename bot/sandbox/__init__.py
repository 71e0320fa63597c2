"""A loopback fake Telegram (MTProto 2.0 over 127.0.0.1) for testing with real Telethon clients."""

from bot.sandbox.server import FakeTelegram
from bot.sandbox.world import Account, FakeChannel, SentMessage, World

__all__ = ["Account", "FakeChannel", "FakeTelegram", "SentMessage", "World"]
