"""Expiry against a sessiond started with --access-token-ttl 2 --refresh-token-ttl 6:
* an expired access token -> 401 "try refresh token" (decided locally) -> refresh -> works again;
* an expired session (refresh token past its lifetime) -> refresh 401 "unauthorised", gone;
* a replaced refresh token replayed after the refresh grace window -> token theft.

Tests in this module share one wait (the module fixture) and run in file order; the ones that
still need a live session run before the session lifetime (6 s from creation) is over."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from dataclasses import dataclass
from typing import Dict, Iterator

import jwt
import pytest
from supertokens_python.recipe.session import asyncio as session_async
from supertokens_python.recipe.session import syncio as session_sync
from supertokens_python.recipe.session.exceptions import TryRefreshTokenError
from supertokens_python.recipe.session.interfaces import SessionContainer
from supertokens_python.types import RecipeUserId

from e2e_support.client import Frontend, decode_front_token, set_cookies
from e2e_support.harness import SHORT_ACCESS_TOKEN_TTL_S, SHORT_REFRESH_TOKEN_TTL_S
from e2e_support.harness import Core, Sdk, run
from e2e_support.tokens import fetch_jwks, unverified_payload, verify_with_jwks

TRY_REFRESH = {"message": "try refresh token"}
UNAUTHORISED = {"message": "unauthorised"}


@dataclass
class Live:
    frontends: Dict[str, Frontend]  # used while fresh, then left to expire
    handles: Dict[str, str]
    direct: SessionContainer  # created without request/response
    access_expired_at: float  # every access token above has expired after this (epoch s)
    session_expires_at: float  # "doomed" session lifetime ends (epoch s)
    replaced_refresh_token: str  # "rotated": its first refresh token, refreshed once before the wait


@pytest.fixture(scope="module")
def live(sdk: Sdk) -> Iterator[Live]:
    frontends, handles, exps = {}, {}, []
    created_at = time.time()
    for mode in ("cookie", "header", "doomed", "rotated"):
        f = Frontend(sdk.app, "cookie" if mode == "cookie" else "header")
        r = f.login(f"expiry-{mode}", payload={"mode": mode})
        assert r.status_code == 200, r.text
        claims = unverified_payload(f.access_token)
        assert claims["exp"] - claims["iat"] == SHORT_ACCESS_TOKEN_TTL_S
        assert decode_front_token(r.headers["front-token"])["ate"] == claims["exp"] * 1000
        r = f.get("/me")
        assert r.status_code == 200, f"fresh token rejected: {r.text}"
        frontends[mode], handles[mode] = f, r.json()["handle"]
        exps.append(claims["exp"])
    rotated = frontends["rotated"]
    replaced = rotated.refresh_token
    assert rotated.refresh().status_code == 200
    assert rotated.get("/me").status_code == 200
    direct = run(
        session_async.create_new_session_without_request_response(
            "public", RecipeUserId("expiry-direct"), {"v": 1}
        )
    )
    exps.append(direct.get_access_token_payload()["exp"])
    access_expired_at = max(exps)
    time.sleep(max(0.0, access_expired_at - time.time()) + 0.3)
    yield Live(
        frontends,
        handles,
        direct,
        access_expired_at,
        created_at + SHORT_REFRESH_TOKEN_TTL_S,
        replaced,
    )
    for f in frontends.values():
        f.close()


def test_request_less_expiry_and_payload_update_on_expired_token(live: Live) -> None:
    s = live.direct

    async def scenario():
        with pytest.raises(TryRefreshTokenError):
            await session_async.get_session_without_request_response(s.get_access_token())
        # merge_into_access_token_payload on a session whose access token has expired:
        # /recipe/session/regenerate must accept the expired token (and issue no new one).
        await s.merge_into_access_token_payload({"late": True})
        info = await session_async.get_session_information(s.get_handle())
        assert info is not None and info.custom_claims_in_access_token_payload["late"] is True

        refresh_token = s.get_all_session_tokens_dangerously()["refreshToken"]
        refreshed = await session_async.refresh_session_without_request_response(refresh_token)
        payload = refreshed.get_access_token_payload()
        assert payload["late"] is True and payload["v"] == 1
        again = await session_async.get_session_without_request_response(
            refreshed.get_access_token()
        )
        assert again is not None and again.get_handle() == s.get_handle()

    run(scenario())


@pytest.mark.parametrize("mode", ["cookie", "header"])
def test_expired_access_token_then_refresh(live: Live, sdk: Sdk, mode: str) -> None:
    f = live.frontends[mode]
    assert time.time() > live.access_expired_at
    mark = sdk.recorder.mark()
    r = f.get("/me")
    assert r.status_code == 401 and r.json() == TRY_REFRESH, r.text
    assert sdk.recorder.since(mark) == [], "expiry is decided locally"
    # The session itself is alive; the frontend refreshes.
    assert session_sync.get_session_information(live.handles[mode]) is not None

    r = f.refresh()
    assert r.status_code == 200, r.text
    claims = unverified_payload(f.access_token)
    assert claims["exp"] > time.time()
    assert claims["sessionHandle"] == live.handles[mode] and claims["mode"] == mode
    r = f.get("/me")
    assert r.status_code == 200 and r.json()["handle"] == live.handles[mode], r.text
    assert f.get("/me-db").status_code == 200


def test_replaying_a_replaced_refresh_token_after_the_grace_window_is_theft(
    live: Live, sdk: Sdk
) -> None:
    """sessiond rotates refresh tokens at refresh time and accepts the parent again only within
    --refresh-grace (1 s here, and more than that has passed). The SDK must then see
    TOKEN_THEFT_DETECTED, revoke the session and answer 401 "token theft detected"."""
    handle = live.handles["rotated"]
    thief = Frontend(sdk.app, "header")
    try:
        thief.set_tokens(refresh=live.replaced_refresh_token)
        r = thief.refresh()
        assert r.status_code == 401 and r.json() == {"message": "token theft detected"}, r.text
    finally:
        thief.close()
    assert session_sync.get_session_information(handle) is None
    r = live.frontends["rotated"].refresh()
    assert r.status_code == 401 and r.json() == UNAUTHORISED, r.text


def test_expired_token_fails_independent_verification(live: Live, short_ttl_core: Core) -> None:
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_with_jwks(live.frontends["doomed"].access_token, fetch_jwks(short_ttl_core.url))


def test_expired_session_cannot_be_refreshed(live: Live, sdk: Sdk) -> None:
    f, handle = live.frontends["doomed"], live.handles["doomed"]
    info = session_sync.get_session_information(handle)
    assert info is not None, "the session should still be alive before its lifetime is over"
    assert abs(info.expiry / 1000 - live.session_expires_at) < 2.0, info.expiry
    time.sleep(max(0.0, info.expiry / 1000 - time.time()) + 0.3)

    mark = sdk.recorder.mark()
    r = f.refresh()
    assert r.status_code == 401 and r.json() == UNAUTHORISED, r.text
    assert [repr(c) for c in sdk.recorder.since(mark)] == ["POST /recipe/session/refresh"]
    assert r.headers.get("st-access-token") == "" and r.headers.get("st-refresh-token") == ""
    assert session_sync.get_session_information(handle) is None
    assert session_sync.get_all_session_handles_for_user("expiry-doomed") == []


def test_refresh_cookie_lifetime_follows_the_session(sdk: Sdk) -> None:
    f = Frontend(sdk.app, "cookie")
    try:
        before = time.time()
        r = f.login("expiry-cookie-lifetime")
        assert r.status_code == 200, r.text
        expires = parsedate_to_datetime(set_cookies(r)["sRefreshToken"]["expires"]).timestamp()
        ttl = SHORT_REFRESH_TOKEN_TTL_S
        assert before + ttl - 2 <= expires <= time.time() + ttl + 1, expires
    finally:
        f.close()
