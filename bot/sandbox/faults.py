"""Fault injection: scripted RPC errors, failing channels and failing sends.

``handlers.answer`` asks these ``take_*`` methods first; whatever they return is the answer
and the request never reaches its handler.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.state import WorldState


class FaultInjection(WorldState):
    """The World's fault injection (mixed into World)."""

    def __init__(self) -> None:
        super().__init__()
        # Request class -> the error its next request answers, or several answered in order.
        self.rpc_errors: dict[type, list[tl.RpcError] | tl.RpcError] = {}
        # World.fail_sends: errors queued per (unmarked) peer id, and those already answered.
        self.send_failures: dict[int, list[tl.RpcError]] = {}
        self.failed_sends: list[tuple[int, str]] = []  # (peer id, error message) as served
        # World.fail_channel: (channel id, request class) -> [code, error, times left, after]
        self.channel_failures: dict[tuple[int, type], list[Any]] = {}
        self.failed_channel_reads: list[tuple[int, str, str]] = []  # (channel, request, error)

    def take_rpc_error(self, req: TLObject) -> tl.RpcError | None:
        """The error queued in `rpc_errors` for this request's class, if any (used up)."""
        queued = self.rpc_errors.get(type(req))
        if isinstance(queued, list):  # several one-shot errors, answered in order
            error = queued.pop(0) if queued else None
            if not queued:
                del self.rpc_errors[type(req)]
            return error
        return self.rpc_errors.pop(type(req), None)

    def fail_channel(self, channel_id: int, request: type, error: str, *, code: int = 400,
                     times: int | None = None, after: int = 0) -> None:
        """Requests of class `request` that name this channel answer `error` (`times` times,
        or until `heal_channel`), once `after` such requests were answered normally. A
        getPeerDialogs naming it among others fails as a whole, as on Telegram. Served errors
        go to `failed_channel_reads`."""
        self.channel_failures[(channel_id, request)] = [code, error, times, after]

    def heal_channel(self, channel_id: int) -> None:
        """Stop every failure injected for this channel."""
        for key in [k for k in self.channel_failures if k[0] == channel_id]:
            del self.channel_failures[key]

    def take_channel_failure(self, req: TLObject) -> tl.RpcError | None:
        """The injected error for a request naming a failing channel, if any."""
        refs = [getattr(req, "peer", None), getattr(req, "channel", None),
                *(getattr(p, "peer", None) for p in getattr(req, "peers", None) or ())]
        for ref in refs:
            channel_id = getattr(ref, "channel_id", None)
            if not isinstance(channel_id, int):
                continue
            key = (channel_id, type(req))
            failure = self.channel_failures.get(key)
            if failure is None:
                continue
            code, error, times, after = failure
            if after > 0:
                failure[3] = after - 1
                return None
            if times is not None:
                failure[2] = times - 1
                if times - 1 <= 0:
                    del self.channel_failures[key]
            self.failed_channel_reads.append((channel_id, type(req).__name__, str(error)))
            return tl.RpcError(error_code=code, error_message=error)
        return None

    def fail_sends(self, peer_id: int, error: str, times: int = 1, code: int = 400) -> None:
        """The next `times` SendMessage/SendMedia/EditMessage to this peer answer `error`.

        `peer_id` is unmarked, like `sent_to`'s. The request never reaches its handler, so
        nothing is recorded and its random_id stays unused. Served errors go to `failed_sends`.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        queue = self.send_failures.setdefault(peer_id, [])
        queue += [tl.RpcError(error_code=code, error_message=error) for _ in range(times)]

    def take_send_failure(self, peer_id: int | None) -> tl.RpcError | None:
        """Pop the next injected error for sends to `peer_id`, recording it as served."""
        if peer_id is None or not self.send_failures.get(peer_id):
            return None
        queue = self.send_failures[peer_id]
        error = queue.pop(0)
        if not queue:
            del self.send_failures[peer_id]
        self.failed_sends.append((peer_id, error.error_message))
        return error
