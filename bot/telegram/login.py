"""Interactive login of the user account: phone number, login code, two-step password.

chanwatch's own loop over Telethon's ``send_code_request`` and ``sign_in``, not
``client.start()`` (which prints its own prompts and, after a few wrong answers, ends in a
traceback): every answer Telegram refuses gets one plain line and another try, and whatever
ends the login early is a ``LoginStopped`` with a one-line reason. The prompts are injected, so
tests drive the whole flow against the loopback fake Telegram.
"""

from __future__ import annotations

import getpass
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telethon import TelegramClient, errors, utils
from telethon.tl import types

NOT_LOGGED_IN = "the account is not logged in"


class LoginStopped(Exception):
    """The login ended before the account was logged in; str() says why, in one line."""


class LoginWait(LoginStopped):
    """Telegram answered FloodWait: no login attempt is accepted for `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"Telegram asks to wait {duration_text(seconds)} before the next login"
                         f" attempt; run `chanwatch login` again then ({NOT_LOGGED_IN})")
        self.seconds = seconds


@dataclass(frozen=True)
class Prompts:
    """How the login talks to the person: read an answer, read a secret, say a line."""

    ask: Callable[[str], str]
    ask_secret: Callable[[str], str]
    say: Callable[[str], None]


@dataclass(frozen=True)
class LoggedIn:
    """Who the session is logged in as; `already` if it was before this login ran."""

    user_id: int
    name: str
    already: bool


def terminal_prompts() -> Prompts:
    """Prompts on the terminal: input(), getpass() (no echo) and print()."""
    return Prompts(_interruptible(input), _interruptible(getpass.getpass), print)


def _interruptible(read: Callable[[str], str]) -> Callable[[str], str]:
    # Prompts block the event loop, as in Telethon's start(). asyncio.run turns the first Ctrl-C
    # into a cancellation that a blocked input() only notices after Enter; while a prompt
    # waits, Ctrl-C raises KeyboardInterrupt at once instead.
    def ask(prompt: str) -> str:
        if threading.current_thread() is not threading.main_thread():
            return read(prompt)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            return read(prompt)
        finally:
            signal.signal(signal.SIGINT, previous)
    return ask


def duration_text(seconds: int) -> str:
    """A wait as a person reads it: "45 s", "3 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = -(-seconds // 60)  # round up: waiting a little longer is safe
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


async def log_in(client: TelegramClient, prompts: Prompts) -> LoggedIn:
    """Connect and, unless the session is authorised already, sign in interactively."""
    await client.connect()
    already = bool(await client.is_user_authorized())
    if not already:
        try:
            await _sign_in(client, prompts)
        except errors.FloodWaitError as exc:
            raise LoginWait(int(exc.seconds)) from None
        except errors.RPCError as exc:
            raise LoginStopped(f"{_refusal(exc)} ({NOT_LOGGED_IN})") from None
    me = await client.get_me()
    if me.bot:
        raise LoginStopped("this session belongs to a bot; delete it and log in as a user")
    return LoggedIn(int(me.id), utils.get_display_name(me), already)


def _refusal(exc: Any) -> str:
    """Why Telegram ended the login, for the few refusals another try cannot fix."""
    if isinstance(exc, errors.PhoneNumberBannedError):
        return "Telegram has banned this phone number"
    if isinstance(exc, errors.PhoneNumberUnoccupiedError):
        return "no Telegram account uses this phone number; create one in a Telegram app first"
    if isinstance(exc, errors.PhonePasswordFloodError):
        return "too many wrong passwords; Telegram refuses more tries for a while"
    return f"Telegram refused the login: {exc.message}"


async def _sign_in(client: TelegramClient, prompts: Prompts) -> None:
    phone = await _request_code(client, prompts)
    if await _enter_code(client, prompts, phone):
        await _enter_password(client, prompts)


def _read(prompts: Prompts, prompt: str, *, secret: bool = False) -> str:
    """One answer; end of input or Ctrl-C become LoginStopped."""
    try:
        return (prompts.ask_secret if secret else prompts.ask)(prompt)
    except EOFError:
        reason = "no more input"
    except KeyboardInterrupt:
        reason = "Ctrl-C"
    prompts.say("")  # end the prompt's line, so the reason starts a line of its own
    raise LoginStopped(f"login stopped ({reason}; {NOT_LOGGED_IN})")


async def _request_code(client: TelegramClient, prompts: Prompts) -> str:
    """Ask for the phone number until Telegram sends a code to it; return the number."""
    while True:
        answer = _read(prompts, "Phone number (with country code, e.g. +44 7700 900123): ")
        phone = utils.parse_phone(answer.strip())
        if not phone:
            prompts.say("That is not a phone number; type it with the country code.")
            continue
        try:
            sent = await client.send_code_request(phone)
        except errors.PhoneNumberInvalidError:
            prompts.say("Telegram does not know that phone number; check it and try again.")
            continue
        prompts.say(f"Telegram sent a login code {_where(sent)}.")
        return str(phone)


def _where(sent: Any) -> str:
    kind = getattr(sent, "type", None)
    if isinstance(kind, types.auth.SentCodeTypeApp):
        return "to your Telegram app (a message from “Telegram”)"
    if isinstance(kind, types.auth.SentCodeTypeSms):
        return "by SMS"
    return "to you"


async def _enter_code(client: TelegramClient, prompts: Prompts, phone: str) -> bool:
    """Ask for the code until it is right; True if a two-step password must follow."""
    while True:
        code = "".join(_read(prompts, "Login code: ").split())
        if not code:
            prompts.say("Type the code Telegram sent you.")
            continue
        try:
            await client.sign_in(phone, code)
            return False
        except errors.SessionPasswordNeededError:
            return True
        except errors.PhoneCodeInvalidError:
            prompts.say("That code is wrong; try again.")
        except errors.PhoneCodeExpiredError:
            # Telethon forgot the expired code's hash, so this asks for a brand-new code.
            sent = await client.send_code_request(phone)
            prompts.say(f"That code has expired; Telegram sent a new one {_where(sent)}.")


async def _enter_password(client: TelegramClient, prompts: Prompts) -> None:
    """Ask for the two-step password until Telegram's SRP check accepts it."""
    prompts.say("This account has a two-step verification password.")
    while True:
        password = _read(prompts, "Two-step password: ", secret=True)
        if not password:
            prompts.say("The password is not empty; type it (it is not shown).")
            continue
        try:
            # Telethon fetches the SRP parameters (account.getPassword) for every try.
            await client.sign_in(password=password)
            return
        except errors.PasswordHashInvalidError:
            prompts.say("That password is wrong; try again.")
        except errors.SrpIdInvalidError:
            prompts.say("Telegram wants the password once more; try again.")
