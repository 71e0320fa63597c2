"""The server side of Telegram's two-step password check (SRP-2048, https://core.telegram.org/api/srp).

Written from Telegram's description, independently of Telethon's client side
(``telethon/password.py``), so that a login against the fake proves the two agree. Like
Telegram, the server keeps only the salts and the verifier v = g^x mod p, never the password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

# Telegram's published 2048-bit safe prime (core.telegram.org/mtproto/auth_key) and generator.
P = int(
    "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f"
    "48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c37"
    "20fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f64"
    "2477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4"
    "a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754"
    "fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4"
    "e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f"
    "0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b",
    16,
)
G = 3
_SIZE = 256  # numbers are hashed big-endian, padded to 2048 bits


def pad(number: int) -> bytes:
    """A number as Telegram hashes and sends it: 256 bytes, big-endian."""
    return number.to_bytes(_SIZE, "big")


def _h(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _sh(data: bytes, salt: bytes) -> bytes:
    return _h(salt, data, salt)


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


def password_hash(password: str, salt1: bytes, salt2: bytes) -> int:
    """x = PH2(password, salt1, salt2): SH(pbkdf2(sha512, PH1, salt1, 100000), salt2)."""
    ph1 = _sh(_sh(password.encode(), salt1), salt2)
    return _int(_sh(hashlib.pbkdf2_hmac("sha512", ph1, salt1, 100_000), salt2))


def _multiplier() -> int:
    return _int(_h(pad(P), pad(G)))  # k = H(p | g)


def _good_power(value: int) -> bool:
    # Telegram's clients refuse g^a, g^b closer than 2^1984 to 0 or to p (tdesktop, Telethon).
    return value.bit_length() > 1984 and (P - value).bit_length() > 1984


@dataclass(frozen=True)
class Challenge:
    """One account.getPassword answer: the server's secret b, B = k*v + g^b, and its srp_id."""

    srp_id: int
    b: int
    B: int


@dataclass(frozen=True)
class Verifier:
    """What the server stores for a two-step password: salt1, salt2 and v = g^x mod p."""

    salt1: bytes
    salt2: bytes
    v: int

    @classmethod
    def create(cls, password: str) -> Verifier:
        """The verifier for `password` with fresh salts (Telegram's sizes: 40 and 16 bytes)."""
        salt1, salt2 = os.urandom(40), os.urandom(16)
        return cls(salt1, salt2, pow(G, password_hash(password, salt1, salt2), P))

    def challenge(self) -> Challenge:
        """A fresh server secret b and the B = (k*v + g^b) mod p sent to the client."""
        while True:
            b = _int(os.urandom(_SIZE))
            g_b = pow(G, b, P)
            big_b = (_multiplier() * self.v + g_b) % P
            if _good_power(g_b) and 0 < big_b < P:
                srp_id = _int(os.urandom(8)) >> 1  # a positive int64
                return Challenge(srp_id=srp_id, b=b, B=big_b)

    def verify(self, challenge: Challenge, a_bytes: bytes, m1: bytes) -> bool:
        """Whether the client's A and M1 prove knowledge of the password (SRP-6a, server side)."""
        big_a = _int(a_bytes)
        if not 1 < big_a < P - 1 or len(a_bytes) > _SIZE:  # A = 0 mod p would force S = 0
            return False
        u = _int(_h(pad(big_a), pad(challenge.B)))  # u = H(A | B)
        if u == 0:
            return False
        s = pow(big_a * pow(self.v, u, P) % P, challenge.b, P)  # S = (A * v^u)^b mod p
        k = _h(pad(s))  # K = H(S)
        expected = _h(
            bytes(x ^ y for x, y in zip(_h(pad(P)), _h(pad(G)), strict=True)),
            _h(self.salt1), _h(self.salt2), pad(big_a), pad(challenge.B), k,
        )  # M1 = H(H(p) xor H(g) | H(salt1) | H(salt2) | A | B | K)
        return hmac.compare_digest(expected, m1)
