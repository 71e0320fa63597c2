"""The one table of handlers, the decorator that fills it, and ``answer`` that dispatches.

Each feature module of this package registers its handlers with ``@serves``; the package's
``__init__`` imports them all, so the table is complete once ``bot.sandbox.handlers`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from telethon.tl import functions as fn
from telethon.tl import types as tl
from telethon.tl.tlobject import TLObject

from bot.sandbox.entities import Account, RpcFailure
from bot.sandbox.world import World

Result: TypeAlias = "TLObject | list[Any] | bool"  # a TL object, a Vector or a Bool
Handler: TypeAlias = Callable[[World, Account, Any], Result]
_HANDLERS: dict[type, Handler] = {}
# What Telethon sends before it is logged in: connect (getConfig), bot and user sign-in.
_PRE_AUTH = (fn.help.GetConfigRequest, fn.auth.ImportBotAuthorizationRequest,
             fn.auth.SendCodeRequest, fn.auth.SignInRequest, fn.account.GetPasswordRequest,
             fn.auth.CheckPasswordRequest)
# Requests that World.fail_sends can make fail for one peer.
_SENDS = (fn.messages.SendMessageRequest, fn.messages.SendMediaRequest,
          fn.messages.EditMessageRequest)


def serves(*classes: type) -> Callable[[Handler], Handler]:
    """Register the decorated handler as the answer to requests of these classes."""

    def register(handler: Handler) -> Handler:
        for cls in classes:
            _HANDLERS[cls] = handler
        return handler
    return register


def answer(world: World, acc: Account, req: TLObject) -> Result | tl.RpcError:
    """Answer one unwrapped request: injected error, 401, scripted result or FAKE_UNSCRIPTED."""
    injected = world.take_rpc_error(req) or world.take_channel_failure(req)
    if injected is None and isinstance(req, _SENDS):
        injected = world.take_send_failure(_addressed_id(acc, req.peer))
    if injected is not None:
        return injected
    if not acc.logged_in and not isinstance(req, _PRE_AUTH):
        return tl.RpcError(error_code=401, error_message="AUTH_KEY_UNREGISTERED")
    handler = _HANDLERS.get(type(req))
    if handler is None:
        world.unscripted.append(req)
        namespace = type(req).__module__.rsplit(".", 1)[-1]  # e.g. "channels"
        name = type(req).__name__.removesuffix("Request")
        label = name if namespace == "functions" else f"{namespace}_{name}"
        return tl.RpcError(error_code=400, error_message=f"FAKE_UNSCRIPTED_{label.upper()}")
    try:
        return handler(world, acc, req)
    except RpcFailure as failure:
        return failure.error


def _addressed_id(acc: Account, ref: Any) -> int | None:
    """The unmarked id of the user, chat or channel an input peer names (not validated)."""
    if isinstance(ref, tl.InputPeerSelf):
        return int(acc.user.id)
    for attr in ("user_id", "chat_id", "channel_id"):
        value = getattr(ref, attr, None)
        if isinstance(value, int):
            return value
    return None
