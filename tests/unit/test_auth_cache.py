"""Verified bearer tokens are remembered per worker; expiry and refusals still hold."""

from __future__ import annotations

import time

import jwt
import pytest

from serving.auth import users
from serving.auth.keys import VerificationKeys
from serving.auth.tokens import LEEWAY_S, TokenError
from serving.auth.users import UserAuthenticator

SECRET = b"s" * 32


def _keys() -> VerificationKeys:
    return VerificationKeys(keys={"k1": SECRET}, algorithms=("HS256",), signing_kid="k1")


def _token(**overrides: object) -> str:
    now = int(time.time())
    claims = {"sub": "dr-a", "role": "clinician", "aud": "relapse-risk", "iat": now,
              "exp": now + 600, **overrides}
    return jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "k1"})


@pytest.fixture
def counted(monkeypatch):  # noqa: ANN201
    calls = []
    real = users.decode

    def decode(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(users, "decode", decode)
    return calls


def test_a_token_is_verified_once_then_remembered(counted) -> None:
    auth = UserAuthenticator(_keys(), "relapse-risk", None)
    token = _token()
    first = auth({}, token)
    assert [auth({}, token) for _ in range(5)] == [first] * 5
    assert (first.sub, first.role) == ("dr-a", "clinician")
    assert len(counted) == 1
    auth({}, _token(sub="dr-b"))
    assert len(counted) == 2


def test_refused_tokens_are_checked_every_time(counted) -> None:
    auth = UserAuthenticator(_keys(), "relapse-risk", None)
    forged = jwt.encode({"sub": "x", "role": "admin", "aud": "relapse-risk",
                         "iat": int(time.time()), "exp": int(time.time()) + 600},
                        b"w" * 32, algorithm="HS256", headers={"kid": "k1"})
    for _ in range(3):
        with pytest.raises(TokenError, match="bad signature"):
            auth({}, forged)
    assert len(counted) == 3


def test_a_remembered_token_expires_on_time(monkeypatch) -> None:
    auth = UserAuthenticator(_keys(), "relapse-risk", None)
    now = time.time()
    token = _token(exp=int(now) + 5)
    auth({}, token)
    monkeypatch.setattr(users.time, "time", lambda: now + 5 + LEEWAY_S - 1)
    auth({}, token)  # still inside the leeway, like PyJWT
    monkeypatch.setattr(users.time, "time", lambda: now + 6 + LEEWAY_S)
    with pytest.raises(TokenError, match="token expired"):
        auth({}, token)
