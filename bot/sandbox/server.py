"""Loopback MTProto 2.0 server (TCP "full" transport) for real, unmodified Telethon clients.

There is no DH key exchange: a test registers an auth key for an Account and writes it, with
127.0.0.1:<port>, into the client's session file (`FakeTelegram.write_session`). Everything
is built from Telethon's own TL classes, so the schema always matches the installed layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import struct
import time
from pathlib import Path
from typing import Any
from zlib import crc32

from telethon.crypto import AES, AuthKey
from telethon.extensions import BinaryReader
from telethon.sessions import SQLiteSession
from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.core import GzipPacked, MessageContainer
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account, now
from bot.sandbox.handlers import answer
from bot.sandbox.world import World

log = logging.getLogger(__name__)

_RPC_RESULT = 0xF35C6D01
_VECTOR = 0x1CB5C415
_BOOL_TRUE, _BOOL_FALSE = 0x997275B5, 0xBC799737  # Telethon has no classes for Bool
_DC_ID = 2
# Envelopes Telethon puts around real requests; the server answers the innermost query.
_WRAPPERS = (fn.InvokeWithLayerRequest, fn.InitConnectionRequest, fn.InvokeWithoutUpdatesRequest,
             fn.InvokeAfterMsgRequest, fn.InvokeAfterMsgsRequest)


def _aes_key_iv(auth_key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    """MTProto 2.0 AES-IGE key/iv derivation; x=0 client->server, x=8 server->client."""
    a = hashlib.sha256(msg_key + auth_key[x:x + 36]).digest()
    b = hashlib.sha256(auth_key[x + 40:x + 76] + msg_key).digest()
    return a[:8] + b[8:24] + a[24:32], b[:8] + a[8:24] + b[24:32]


def _serialize(result: TLObject | list[Any] | bool) -> bytes:
    """Encode a handler's result as a TL value (Vector for lists, Bool for bools)."""
    if isinstance(result, bool):
        return struct.pack("<I", _BOOL_TRUE if result else _BOOL_FALSE)
    if isinstance(result, list):
        return struct.pack("<Ii", _VECTOR, len(result)) + b"".join(bytes(x) for x in result)
    return bytes(result)


def dc_config(port: int) -> tl.Config:
    """A help.getConfig answer whose only DC is this loopback server."""
    date = now()
    ints = {  # Telethon does not read these limits; they only have to be present
        "chat_size_max": 200, "megagroup_size_max": 200000, "forwarded_count_max": 100,
        "online_update_period_ms": 210000, "offline_blur_timeout_ms": 5000,
        "offline_idle_timeout_ms": 30000, "online_cloud_timeout_ms": 300000,
        "notify_cloud_delay_ms": 30000, "notify_default_delay_ms": 1500,
        "push_chat_period_ms": 60000, "push_chat_limit": 2, "edit_time_limit": 172800,
        "revoke_time_limit": 2147483647, "revoke_pm_time_limit": 2147483647,
        "rating_e_decay": 2419200, "stickers_recent_limit": 200,
        "channels_read_media_period": 604800, "call_receive_timeout_ms": 20000,
        "call_ring_timeout_ms": 90000, "call_connect_timeout_ms": 30000,
        "call_packet_timeout_ms": 10000, "caption_length_max": 1024,
        "message_length_max": 4096, "webfile_dc_id": _DC_ID,
    }
    return tl.Config(date=date, expires=date + dt.timedelta(days=1), test_mode=False,
                     this_dc=_DC_ID, dc_txt_domain_name="localhost", me_url_prefix="https://t.me/",
                     dc_options=[tl.DcOption(id=_DC_ID, ip_address="127.0.0.1", port=port)],
                     **ints)


class _Connection:
    """One client TCP connection: framing, encryption, service messages, RPC dispatch."""

    def __init__(self, fake: FakeTelegram, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.fake, self.reader, self.writer = fake, reader, writer
        self.account: Account | None = None
        self.auth_key: AuthKey | None = None
        self.session_id = self.salt = self.out_seq = self.seq_no = 0
        self.wants_updates = True

    # --- TCP "full" framing: len, seq, payload, crc32
    async def _read_packet(self) -> bytes:
        head = await self.reader.readexactly(8)
        length, _seq = struct.unpack("<ii", head)
        rest = await self.reader.readexactly(length - 8)
        if crc32(head + rest[:-4]) != struct.unpack("<I", rest[-4:])[0]:
            raise ValueError("bad transport checksum")
        return rest[:-4]

    def _write_packet(self, payload: bytes) -> None:
        packet = struct.pack("<ii", len(payload) + 12, self.out_seq) + payload
        self.out_seq += 1
        self.writer.write(packet + struct.pack("<I", crc32(packet)))

    # --- MTProto 2.0 encryption
    def _decrypt(self, packet: bytes) -> tuple[int, bytes]:
        key_id = struct.unpack("<Q", packet[:8])[0]
        known = self.fake.keys.get(key_id)
        if known is None:
            raise LookupError(f"unknown auth key {key_id:#x} (key exchange is not supported)")
        self.auth_key, account = known
        msg_key = packet[8:24]
        key, iv = _aes_key_iv(self.auth_key.key, msg_key, 0)
        plain = AES.decrypt_ige(packet[24:], key, iv)
        if hashlib.sha256(self.auth_key.key[88:120] + plain).digest()[8:24] != msg_key:
            raise ValueError("msg_key mismatch")
        if self.account is None:  # from now on pushes for this account reach this connection
            self.account = account
            account.connections.add(self)
        self.salt, self.session_id, msg_id, _seq, length = struct.unpack("<qqqii", plain[:32])
        return msg_id, plain[32:32 + length]

    def _send(self, body: bytes, *, response: bool) -> None:
        assert self.auth_key is not None
        self.seq_no += 1
        data = struct.pack("<qqqii", self.salt, self.session_id,
                           self.fake.next_msg_id(response=response), 2 * self.seq_no + 1,
                           len(body)) + body
        padding = os.urandom(-(len(data) + 12) % 16 + 12)  # 12..27 bytes, block-aligned
        msg_key = hashlib.sha256(self.auth_key.key[96:128] + data + padding).digest()[8:24]
        key, iv = _aes_key_iv(self.auth_key.key, msg_key, 8)
        self._write_packet(struct.pack("<Q", self.auth_key.key_id) + msg_key
                           + AES.encrypt_ige(data + padding, key, iv))

    def push(self, updates: TLObject) -> None:
        """Send an unsolicited Updates object (only once the client has spoken)."""
        if self.session_id and self.wants_updates and not self.writer.is_closing():
            self._send(bytes(updates), response=False)

    def close(self) -> None:
        """Drop the TCP connection (the client sees EOF and reconnects)."""
        if self.account is not None:
            self.account.connections.discard(self)
        self.writer.close()

    async def run(self) -> None:
        """Serve the connection until the client or the server closes it."""
        try:
            while True:
                packet = await self._read_packet()
                try:
                    msg_id, body = self._decrypt(packet)
                except LookupError as exc:
                    log.warning("%s", exc)
                    self._write_packet(struct.pack("<i", -404))  # Telegram's "auth key not found"
                    break
                self._handle(msg_id, BinaryReader(body).tgread_object())
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except Exception as exc:  # garbage on the wire: record it and drop the connection
            log.exception("fake Telegram connection failed")
            self.fake.errors.append(exc)
        finally:
            self.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()

    def _handle(self, msg_id: int, obj: TLObject) -> None:
        if isinstance(obj, MessageContainer):
            for inner in obj.messages:
                self._handle(inner.msg_id, inner.obj)
        elif isinstance(obj, GzipPacked):
            self._handle(msg_id, BinaryReader(obj.data).tgread_object())
        elif isinstance(obj, fn.PingRequest | fn.PingDelayDisconnectRequest):
            self._send(bytes(tl.Pong(msg_id=msg_id, ping_id=obj.ping_id)), response=True)
        elif not isinstance(obj, tl.MsgsAck):
            self._call(msg_id, obj)

    def _call(self, msg_id: int, req: TLObject) -> None:
        while isinstance(req, _WRAPPERS):
            if isinstance(req, fn.InvokeWithoutUpdatesRequest):
                self.wants_updates = False  # as Telegram: no pushes for receive_updates=False
            req = req.query
        assert self.account is not None
        self.fake.requests.append((self.account, req))
        try:
            payload = _serialize(answer(self.fake.world, self.account, req))
        except Exception as exc:  # a bug in the fake must fail the test, not loop the client
            log.exception("fake Telegram failed on %s", type(req).__name__)
            self.fake.errors.append(exc)
            payload = bytes(tl.RpcError(error_code=400, error_message="FAKE_INTERNAL_ERROR"))
        self._send(struct.pack("<Iq", _RPC_RESULT, msg_id) + payload, response=True)


class FakeTelegram:
    """A fake Telegram DC on 127.0.0.1: `fake = await FakeTelegram.start()` ... `fake.stop()`."""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()
        self.port = 0
        self.keys: dict[int, tuple[AuthKey, Account]] = {}
        self.requests: list[tuple[Account, TLObject]] = []
        self.errors: list[Exception] = []  # exceptions raised while answering requests
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[_Connection] = set()
        self._last_msg_id = 0

    @classmethod
    async def start(cls, world: World | None = None) -> FakeTelegram:
        """Listen on 127.0.0.1 at a free port and return the running fake."""
        fake = cls(world)
        fake._server = await asyncio.start_server(fake._accept, "127.0.0.1", 0)
        fake.port = fake._server.sockets[0].getsockname()[1]
        fake.world.config = dc_config(fake.port)
        return fake

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # tracked so stop() can wait for every connection to wind down
        conn = _Connection(self, reader, writer)
        self._connections.add(conn)
        try:
            await conn.run()
        finally:
            self._connections.discard(conn)
            self._tasks.discard(task)

    async def stop(self) -> None:
        """Close the listener and every connection, and wait for them to finish."""
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> None:
        """Abruptly close all client connections, like a network blip."""
        for conn in list(self._connections):
            conn.close()

    def next_msg_id(self, *, response: bool) -> int:
        """A server msg_id: time-based, strictly increasing, 1 mod 4 (response) or 3 mod 4."""
        # Telethon drops server messages whose msg_id is even, repeated or far from its clock.
        base = max(int(time.time()) << 32, self._last_msg_id + 4) & ~3
        self._last_msg_id = base | (1 if response else 3)
        return self._last_msg_id

    def register_key(self, account: Account) -> AuthKey:
        """Create a fresh auth key that the server will accept as `account`."""
        key = AuthKey(os.urandom(256))
        self.keys[key.key_id] = (key, account)
        return key

    def write_session(self, account: Account, path: str | Path) -> None:
        """Write a Telethon SQLite session at `path` (ending in .session) for `account`."""
        path = Path(path)
        if path.suffix != ".session":
            raise ValueError("the session path must end with .session (Telethon appends it)")
        session = SQLiteSession(str(path))
        try:
            session.set_dc(_DC_ID, "127.0.0.1", self.port)
            session.auth_key = self.register_key(account)
            session.save()
        finally:
            session.close()
        path.chmod(0o600)
