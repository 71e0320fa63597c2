"""`chanwatch login` against the loopback fake Telegram: real Telethon, real SRP check.

Each login starts from a session file whose auth key the fake knows but has not authorised
(the fake has no DH key exchange; see World.add_account). The person at the terminal is a
script of answers; answers that depend on Telegram (the code) are read from the world when the
prompt comes, as a person would read them in their app.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from telethon.tl import functions, types

from bot.cli import cmd_login
from bot.config import Settings, settings_from_mapping
from bot.match import Lemmatizer
from bot.sandbox import Account, FakeTelegram, World
from bot.telegram.clients import session_has_key
from bot.telegram.login import Prompts, duration_text
from tests.support.fakes import child_env
from tests.support.harness import ADMIN, BOT_TOKEN, STRANGER, Env, ask, settings_env

PHONE = "+44 7700 900123"
PASSWORD = "correct horse battery staple"

Answer = str | Callable[[], str] | BaseException


class Person:
    """Answers the login's prompts in order; past the last answer, input ends (EOFError)."""

    def __init__(self, *answers: Answer) -> None:
        self._answers = list(answers)
        self.prompts: list[str] = []
        self.said: list[str] = []

    def _next(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self._answers:
            raise EOFError
        answer = self._answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer

    @property
    def terminal(self) -> Prompts:
        return Prompts(ask=self._next, ask_secret=self._next, say=self.said.append)


@dataclass
class Login:
    fake: FakeTelegram
    world: World
    user: Account
    settings: Settings
    data_dir: Path

    def code(self) -> str:
        return self.world.login_code

    def requests(self) -> list[str]:
        """The sign-in requests the fake answered, by name."""
        kinds = (functions.auth.SendCodeRequest, functions.auth.SignInRequest,
                 functions.account.GetPasswordRequest, functions.auth.CheckPasswordRequest)
        return [type(r).__name__.removesuffix("Request") for _, r in self.fake.requests
                if isinstance(r, kinds)]


async def _login_world(tmp_path: Path, password: str | None) -> AsyncIterator[Login]:
    fake = await FakeTelegram.start()
    try:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        world = fake.world
        user = world.add_account(world.add_user(1000, "Монитор"), logged_in=False,
                                 phone=PHONE, password=password)
        bot = world.add_account(world.add_user(424242, "chanwatch", "chanwatch_bot", bot=True),
                                bot_token=BOT_TOKEN)
        fake.write_session(user, data_dir / "user.session")
        fake.write_session(bot, data_dir / "bot.session")
        yield Login(fake, world, user, settings_from_mapping(settings_env(data_dir)), data_dir)
    finally:
        await fake.stop()
    assert fake.world.unscripted == [], fake.world.unscripted
    assert fake.errors == [], fake.errors


@pytest_asyncio.fixture
async def login(tmp_path: Path) -> AsyncIterator[Login]:
    """An account with a two-step password that is not logged in yet."""
    async for setup in _login_world(tmp_path, PASSWORD):
        yield setup


@pytest_asyncio.fixture
async def login_no_password(tmp_path: Path) -> AsyncIterator[Login]:
    """An account without a two-step password that is not logged in yet."""
    async for setup in _login_world(tmp_path, None):
        yield setup


async def test_phone_code_password_then_the_service_runs_with_the_session(
        login: Login, lemmatizer: Lemmatizer, capsys: pytest.CaptureFixture[str]) -> None:
    person = Person(PHONE, login.code, PASSWORD)
    assert await cmd_login(login.settings, person.terminal) == 0

    assert capsys.readouterr().out == (
        "chanwatch: logged in as Монитор (id 1000);"
        f" session saved to {login.data_dir / 'user.session'}\n")
    assert person.said == [
        "Telegram sent a login code to your Telegram app (a message from “Telegram”).",
        "This account has a two-step verification password."]
    assert login.user.logged_in
    assert login.requests() == ["SendCode", "SignIn", "GetPassword", "CheckPassword"]
    assert login.world.login_failures == ["SESSION_PASSWORD_NEEDED"]

    # The real service starts on that session file and reads channels with it.
    world = login.world
    news = world.add_channel(1234567, "Новости", "news_test")
    env = Env(login.fake, world, world.add_user(ADMIN, "Админ"), world.add_user(STRANGER, "Чужой"),
              next(a for a in world.accounts if a.is_bot), login.user, news, login.data_dir,
              lemmatizer)
    await env.start_app()
    try:
        reply = await ask(env, env.admin, "/watch @news_test")
        assert "@news_test" in reply
        assert news.id in login.user.channels
    finally:
        await env.stop_app()


async def test_a_wrong_code_is_said_once_and_asked_again(
        login_no_password: Login, capsys: pytest.CaptureFixture[str]) -> None:
    login = login_no_password
    person = Person(PHONE, lambda: "00000" if login.code() != "00000" else "11111", login.code)
    assert await cmd_login(login.settings, person.terminal) == 0
    assert "That code is wrong; try again." in person.said
    assert person.prompts.count("Login code: ") == 2
    assert login.world.login_failures == ["PHONE_CODE_INVALID"]
    assert login.user.logged_in
    assert "Traceback" not in capsys.readouterr().err


async def test_a_wrong_password_fails_the_fakes_srp_check_and_is_asked_again(
        login: Login) -> None:
    person = Person(PHONE, login.code, "correct horse battery stapler", PASSWORD)
    assert await cmd_login(login.settings, person.terminal) == 0
    assert "That password is wrong; try again." in person.said
    assert login.world.login_failures == ["SESSION_PASSWORD_NEEDED", "PASSWORD_HASH_INVALID"]
    # Each try is a fresh SRP exchange: Telethon fetches new parameters before answering.
    assert login.requests() == ["SendCode", "SignIn", "GetPassword", "CheckPassword",
                                "GetPassword", "CheckPassword"]
    assert login.user.logged_in


async def test_without_a_two_step_password_phone_and_code_are_enough(
        login_no_password: Login) -> None:
    login = login_no_password
    person = Person(PHONE, login.code)
    assert await cmd_login(login.settings, person.terminal) == 0
    assert login.requests() == ["SendCode", "SignIn"]
    assert len(person.prompts) == 2 and login.world.login_failures == []
    assert login.user.logged_in


async def test_an_expired_code_brings_a_new_one(login_no_password: Login) -> None:
    login = login_no_password
    first: list[str] = []

    def stale_code() -> str:
        first.append(login.code())
        login.world.expire_login_code()
        return first[0]

    person = Person(PHONE, stale_code, login.code)
    assert await cmd_login(login.settings, person.terminal) == 0
    assert person.said[-1].startswith("That code has expired; Telegram sent a new one")
    assert login.requests() == ["SendCode", "SignIn", "SendCode", "SignIn"]
    assert len(login.world.login_codes) == 2 and login.user.logged_in


async def test_a_bad_phone_number_is_asked_again(login_no_password: Login) -> None:
    login = login_no_password
    person = Person("my phone", "+1 555 0100", PHONE, login.code)
    assert await cmd_login(login.settings, person.terminal) == 0
    assert person.said[:2] == [
        "That is not a phone number; type it with the country code.",  # never sent
        "Telegram does not know that phone number; check it and try again."]
    assert login.world.login_failures == ["PHONE_NUMBER_INVALID"]
    assert login.user.logged_in


async def test_flood_wait_says_how_long_and_exits_75(
        login: Login, capsys: pytest.CaptureFixture[str]) -> None:
    login.world.rpc_errors[functions.auth.SendCodeRequest] = types.RpcError(
        error_code=420, error_message="FLOOD_WAIT_7500")
    assert await cmd_login(login.settings, Person(PHONE).terminal) == 75
    err = capsys.readouterr().err
    assert err == ("chanwatch: Telegram asks to wait 2 h 5 min before the next login attempt;"
                   " run `chanwatch login` again then (the account is not logged in)\n")
    assert not login.user.logged_in


async def test_a_refusal_no_retry_can_fix_is_one_line_and_exit_1(
        login: Login, capsys: pytest.CaptureFixture[str]) -> None:
    login.world.rpc_errors[functions.auth.SendCodeRequest] = types.RpcError(
        error_code=400, error_message="PHONE_NUMBER_BANNED")
    assert await cmd_login(login.settings, Person(PHONE).terminal) == 1
    assert capsys.readouterr().err == (
        "chanwatch: Telegram has banned this phone number (the account is not logged in)\n")


@pytest.mark.parametrize("stop", [EOFError(), KeyboardInterrupt()], ids=["eof", "ctrl-c"])
async def test_stopping_at_the_password_prompt_is_one_line(
        login: Login, stop: BaseException, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cmd_login(login.settings, Person(PHONE, login.code, stop).terminal) == 1
    err = capsys.readouterr().err
    assert err.startswith("chanwatch: login stopped") and err.count("\n") == 1
    assert "the account is not logged in" in err
    assert not login.user.logged_in


async def test_a_logged_in_session_is_left_as_it_is(
        login_no_password: Login, capsys: pytest.CaptureFixture[str]) -> None:
    login = login_no_password
    login.user.logged_in = True
    person = Person()
    assert await cmd_login(login.settings, person.terminal) == 0
    assert person.prompts == [] and login.requests() == []
    assert "already logged in as Монитор (id 1000)" in capsys.readouterr().out


async def test_end_of_input_in_the_real_program_is_a_clear_line_not_a_traceback(
        login: Login) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "login", env=child_env(login.data_dir),
        cwd=login.data_dir.parent, stdin=asyncio.subprocess.PIPE, start_new_session=True,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{PHONE}\n".encode())
    await proc.stdin.drain()
    await asyncio.wait_for(_read_until(proc.stdout, b"Login code: "), 60)
    proc.stdin.write(f"{login.code()}\n".encode())  # then input ends at the password prompt
    proc.stdin.close()
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "Traceback" not in err.decode()
    # (getpass, with no terminal, writes its prompt to stderr: the reason follows it)
    assert err.decode().endswith(
        "chanwatch: login stopped (no more input; the account is not logged in)\n")
    assert login.requests() == ["SendCode", "SignIn"]
    assert session_has_key(login.data_dir / "user.session") and not login.user.logged_in


async def _read_until(stream: asyncio.StreamReader, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        chunk = await stream.read(1024)
        if not chunk:
            raise AssertionError(f"output ended before {marker!r}: {seen!r}")
        seen += chunk
    return seen


@pytest.mark.parametrize(("seconds", "text"), [
    (45, "45 s"), (60, "1 min"), (61, "2 min"), (3600, "1 h"), (7500, "2 h 5 min")])
def test_duration_text(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text
