"""The fake's two-step password check (server-side SRP) against Telethon's client side."""

from __future__ import annotations

import random

import pytest
from telethon import password as telethon_password
from telethon.tl import functions, types

from bot.sandbox import Account, World, srp
from bot.sandbox.handlers import answer

PASSWORD = "пароль с пробелами"


def _probably_prime(n: int, rounds: int = 16) -> bool:
    """Miller-Rabin with random bases (a composite passes with odds below 4**-rounds)."""
    if n % 2 == 0:
        return n == 2
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    rng = random.Random(2048)
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def test_p_is_a_2048_bit_safe_prime_that_g_3_suits() -> None:
    assert srp.P.bit_length() == 2048
    assert _probably_prime(srp.P) and _probably_prime((srp.P - 1) // 2)
    assert srp.G == 3 and srp.P % 3 == 2  # Telegram's condition for g = 3


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def account(world: World) -> Account:
    """An account whose code was right: the two-step password is what is left."""
    acc = world.add_account(world.add_user(1000, "Монитор"), logged_in=False,
                            phone="+44 7700 900123", password=PASSWORD)
    acc.awaiting_password = True
    return acc


def _get_password(world: World, acc: Account) -> types.account.Password:
    result = answer(world, acc, functions.account.GetPasswordRequest())
    assert isinstance(result, types.account.Password)
    return result


def _check(world: World, acc: Account, check: types.InputCheckPasswordSRP) -> object:
    return answer(world, acc, functions.auth.CheckPasswordRequest(password=check))


def test_the_verifier_agrees_with_telethons_password_hash(world: World,
                                                          account: Account) -> None:
    algo = _get_password(world, account).current_algo
    x = int.from_bytes(telethon_password.compute_hash(algo, PASSWORD), "big")
    assert account.two_step is not None
    assert account.two_step.v == pow(srp.G, x, srp.P)


def test_telethons_check_is_accepted_and_a_wrong_password_is_not(world: World,
                                                                  account: Account) -> None:
    assert account.two_step is not None
    verifier = account.two_step
    wrong = telethon_password.compute_check(_get_password(world, account), PASSWORD + " ")
    challenge = account.srp_challenge
    assert challenge is not None
    assert not verifier.verify(challenge, wrong.A, wrong.M1)
    right = telethon_password.compute_check(_get_password(world, account), PASSWORD)
    challenge = account.srp_challenge
    assert challenge is not None
    assert verifier.verify(challenge, right.A, right.M1)
    assert not verifier.verify(challenge, srp.pad(0), right.M1)  # A = 0 would make S = 0
    assert not verifier.verify(challenge, srp.pad(srp.P), right.M1)


def test_check_password_answers_like_telegram(world: World, account: Account) -> None:
    wrong = telethon_password.compute_check(_get_password(world, account), "hunter2")
    result = _check(world, account, wrong)
    assert isinstance(result, types.RpcError)
    assert result.error_message == "PASSWORD_HASH_INVALID" and not account.logged_in

    stale = telethon_password.compute_check(_get_password(world, account), PASSWORD)
    _get_password(world, account)  # a newer challenge replaces the one `stale` answers
    result = _check(world, account, stale)
    assert isinstance(result, types.RpcError) and result.error_message == "SRP_ID_INVALID"

    fresh = telethon_password.compute_check(_get_password(world, account), PASSWORD)
    result = _check(world, account, fresh)
    assert isinstance(result, types.auth.Authorization) and account.logged_in
    assert result.user.id == 1000
    assert world.login_failures == ["PASSWORD_HASH_INVALID", "SRP_ID_INVALID"]


def test_a_challenge_is_answered_once(world: World, account: Account) -> None:
    check = telethon_password.compute_check(_get_password(world, account), "hunter2")
    assert isinstance(_check(world, account, check), types.RpcError)
    replay = _check(world, account, check)
    assert isinstance(replay, types.RpcError) and replay.error_message == "SRP_ID_INVALID"


def test_no_password_and_no_sign_in_in_progress(world: World) -> None:
    plain = world.add_account(world.add_user(1001, "Без пароля"), logged_in=False,
                              phone="+44 7700 900124")
    refused = answer(world, plain, functions.account.GetPasswordRequest())
    assert isinstance(refused, types.RpcError) and refused.error_code == 401
    plain.logged_in = True
    info = _get_password(world, plain)
    assert not info.has_password and info.current_algo is None
