"""What bots call besides sending: bots.setBotCommands, messages.setTyping and
messages.setBotCallbackAnswer."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions as fn

from bot.sandbox.entities import Account, RpcFailure
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World


@serves(fn.bots.SetBotCommandsRequest)
def _set_bot_commands(world: World, acc: Account, req: Any) -> Result:
    if not acc.is_bot:
        raise RpcFailure(400, "USER_BOT_REQUIRED")
    world.bot_commands = list(req.commands)
    return True


@serves(fn.messages.SetTypingRequest)
def _set_typing(world: World, acc: Account, req: Any) -> Result:
    world.peer(acc, req.peer)
    return True


@serves(fn.messages.SetBotCallbackAnswerRequest)
def _set_bot_callback_answer(world: World, acc: Account, req: Any) -> Result:
    if not acc.is_bot:
        raise RpcFailure(400, "USER_BOT_REQUIRED")
    if not 0 < req.query_id <= world.callback_queries:
        raise RpcFailure(400, "QUERY_ID_INVALID")
    world.callback_answers.append(req)
    return True
