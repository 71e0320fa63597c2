"""Connecting and logging in: help.getConfig, bot sign-in, and a user's phone, code and
two-step password (see World.add_account)."""

from __future__ import annotations

import os
import re
import secrets
from typing import Any

from telethon.tl import functions as fn
from telethon.tl import types as tl

from bot.sandbox import srp
from bot.sandbox.entities import Account, LoginCode, RpcFailure
from bot.sandbox.handlers.registry import Result, serves
from bot.sandbox.world import World


@serves(fn.help.GetConfigRequest)
def _get_config(world: World, acc: Account, req: Any) -> Result:
    if world.config is None:
        raise RpcFailure(500, "FAKE_NO_CONFIG")
    return world.config


@serves(fn.auth.ImportBotAuthorizationRequest)
def _import_bot_authorization(world: World, acc: Account, req: Any) -> Result:
    if acc.bot_token is None or req.bot_auth_token != acc.bot_token:
        raise RpcFailure(400, "ACCESS_TOKEN_INVALID")
    acc.logged_in = True
    return tl.auth.Authorization(user=world.self_view(acc))


# --- Signing a user account in (see World.add_account): phone, code, two-step password.
def _refuse(world: World, code: int, message: str) -> RpcFailure:
    """An error a sign-in handler answers, recorded in World.login_failures."""
    world.login_failures.append(message)
    return RpcFailure(code, message)


def _authorized(world: World, acc: Account) -> tl.auth.Authorization:
    acc.logged_in, acc.awaiting_password, acc.srp_challenge = True, False, None
    return tl.auth.Authorization(user=world.self_view(acc))


@serves(fn.auth.SendCodeRequest)
def _send_code(world: World, acc: Account, req: Any) -> Result:
    phone = re.sub(r"\D", "", req.phone_number)
    if acc.is_bot or acc.phone is None or phone != acc.phone:
        raise _refuse(world, 400, "PHONE_NUMBER_INVALID")
    for old in world.login_codes:  # as on Telegram, a new code makes earlier ones useless
        if old.account is acc:
            old.expired = True
    sent = LoginCode(account=acc, phone=phone, phone_code_hash=secrets.token_hex(9),
                     code=f"{secrets.randbelow(100_000):05d}")
    world.login_codes.append(sent)
    return tl.auth.SentCode(type=tl.auth.SentCodeTypeApp(length=len(sent.code)),
                            phone_code_hash=sent.phone_code_hash)


@serves(fn.auth.SignInRequest)
def _sign_in(world: World, acc: Account, req: Any) -> Result:
    sent = next((c for c in world.login_codes if c.phone_code_hash == req.phone_code_hash), None)
    if sent is None or sent.account is not acc or sent.expired:
        raise _refuse(world, 400, "PHONE_CODE_EXPIRED")
    if sent.phone != re.sub(r"\D", "", req.phone_number):
        raise _refuse(world, 400, "PHONE_NUMBER_INVALID")
    if not req.phone_code:
        raise _refuse(world, 400, "PHONE_CODE_EMPTY")
    if req.phone_code != sent.code:
        raise _refuse(world, 400, "PHONE_CODE_INVALID")
    sent.expired = True  # a code signs in once
    if acc.two_step is not None:
        acc.awaiting_password = True
        raise _refuse(world, 401, "SESSION_PASSWORD_NEEDED")
    return _authorized(world, acc)


def _new_algo() -> tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
    """The algorithm (and server half of salt1) a client would set a new password with."""
    return tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=os.urandom(8), salt2=os.urandom(16), g=srp.G, p=srp.pad(srp.P))


@serves(fn.account.GetPasswordRequest)
def _get_password(world: World, acc: Account, req: Any) -> Result:
    if not (acc.logged_in or acc.awaiting_password):
        raise RpcFailure(401, "AUTH_KEY_UNREGISTERED")
    common = {"new_algo": _new_algo(), "new_secure_algo": tl.SecurePasswordKdfAlgoSHA512(
        salt=os.urandom(8)), "secure_random": os.urandom(256)}
    if acc.two_step is None:
        return tl.account.Password(has_password=False, **common)
    # Each answer is a fresh SRP challenge; only the latest one can be answered, once.
    acc.srp_challenge = challenge = acc.two_step.challenge()
    algo = tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=acc.two_step.salt1, salt2=acc.two_step.salt2, g=srp.G, p=srp.pad(srp.P))
    return tl.account.Password(has_password=True, current_algo=algo, srp_B=srp.pad(challenge.B),
                               srp_id=challenge.srp_id, **common)


@serves(fn.auth.CheckPasswordRequest)
def _check_password(world: World, acc: Account, req: Any) -> Result:
    if not acc.awaiting_password or acc.two_step is None:
        raise _refuse(world, 401, "AUTH_KEY_UNREGISTERED")
    check, challenge, acc.srp_challenge = req.password, acc.srp_challenge, None
    if (not isinstance(check, tl.InputCheckPasswordSRP) or challenge is None
            or check.srp_id != challenge.srp_id):
        raise _refuse(world, 400, "SRP_ID_INVALID")
    if not acc.two_step.verify(challenge, check.A, check.M1):
        raise _refuse(world, 400, "PASSWORD_HASH_INVALID")
    return _authorized(world, acc)
