"""create_new_session (cookie and header transfer) and get_session with local JWT verification
against sessiond's JWKS."""

from __future__ import annotations

import base64
import json
import time
from email.utils import parsedate_to_datetime

import pytest
from supertokens_python.recipe.session.syncio import get_session_information

from e2e_support.app import ISSUER
from e2e_support.client import decode_front_token, set_cookies
from e2e_support.harness import Core, Sdk, get_me_locally
from e2e_support.tokens import fetch_jwks, unverified_header, unverified_payload, verify_with_jwks

# sessiond's default refresh-token lifetime (`--refresh-token-ttl`, 100 days).
REFRESH_TTL_MS = 8_640_000 * 1000
DEFAULT_ACCESS_TTL_S = 3600


def test_create_session_cookie_transfer(frontend, sdk: Sdk, user_id: str) -> None:
    f = frontend("cookie")
    mark = sdk.recorder.mark()
    before_ms = int(time.time() * 1000)
    r = f.login(user_id, payload={"role": "admin", "n": 7}, data={"cart": [1, 2]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["userId"] == user_id and body["recipeUserId"] == user_id
    assert body["tenantId"] == "public"
    assert body["payload"]["role"] == "admin" and body["payload"]["n"] == 7

    # What the SDK asked sessiond for, in order (apiversion only on the first call of the process).
    calls = [repr(c) for c in sdk.recorder.since(mark) if c.path != "/apiversion"]
    assert calls == ["GET /user/id", "POST /public/recipe/session"], calls
    create = sdk.recorder.since(mark)[-1]
    assert create.body == {
        "userId": user_id,
        "userDataInJWT": {"role": "admin", "n": 7, "iss": ISSUER},
        "userDataInDatabase": {"cart": [1, 2]},
        "useDynamicSigningKey": True,
        "enableAntiCsrf": False,
    }

    # Cookies, not headers.
    cookies = set_cookies(r)
    assert set(cookies) == {"sAccessToken", "sRefreshToken"}, r.headers.get_list("set-cookie")
    assert "st-access-token" not in r.headers and "st-refresh-token" not in r.headers
    assert "anti-csrf" not in r.headers  # anti_csrf NONE
    access, refresh = cookies["sAccessToken"], cookies["sRefreshToken"]
    assert access["path"] == "/" and access["httponly"]
    assert refresh["path"] == "/auth/session/refresh" and refresh["httponly"]
    # The refresh cookie expires with the refresh token sessiond reported (ms -> cookie date).
    refresh_expiry_ms = parsedate_to_datetime(refresh["expires"]).timestamp() * 1000
    assert abs(refresh_expiry_ms - (before_ms + REFRESH_TTL_MS)) < 120_000, refresh["expires"]

    # front-token: {uid, ate, up}; ate (ms) is the access token's exp.
    payload = unverified_payload(access.value)
    front = decode_front_token(r.headers["front-token"])
    assert front["uid"] == user_id
    assert front["ate"] == payload["exp"] * 1000
    assert front["up"] == payload

    # The cookie jar sends the token back; the app sees the same session.
    me = f.get("/me")
    assert me.status_code == 200, me.text
    assert me.json()["handle"] == body["handle"]
    assert me.json()["payload"]["role"] == "admin"


def test_create_session_header_transfer(frontend, user_id: str) -> None:
    f = frontend("header")
    r = f.login(user_id, payload={"plan": "pro"})
    assert r.status_code == 200, r.text
    assert not r.headers.get_list("set-cookie"), "header mode must not set cookies"
    assert r.headers["st-access-token"] and r.headers["st-refresh-token"]
    assert r.headers["st-access-token"] != r.headers["st-refresh-token"]
    assert "front-token" in r.headers
    exposed = r.headers["access-control-expose-headers"]
    for name in ("front-token", "st-access-token", "st-refresh-token"):
        assert name in exposed

    me = f.get("/me")
    assert me.status_code == 200, me.text
    assert me.json()["userId"] == user_id
    assert me.json()["payload"]["plan"] == "pro"

    # No token at all -> 401 "unauthorised"; an optional session is simply absent.
    anonymous = frontend("header")
    r = anonymous.get("/me")
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}
    r = anonymous.get("/optional")
    assert r.status_code == 200 and r.json() == {"session": None}


def test_access_token_verifies_independently_against_jwks(frontend, core: Core, user_id: str) -> None:
    f = frontend("header")
    assert f.login(user_id, payload={"role": "viewer"}).status_code == 200
    token = f.access_token
    header = unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["version"] == "5"  # a JSON string
    assert header["kid"].startswith("d-")  # useDynamicAccessTokenSigningKey defaults to true

    jwks = fetch_jwks(core.url)
    for key in jwks["keys"]:
        assert set(key) >= {"kty", "kid", "n", "e", "alg", "use"}, key
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert not set(key) & {"d", "p", "q", "dp", "dq", "qi", "k"}, "private material in JWKS"
    claims = verify_with_jwks(token, jwks)

    now = time.time()
    assert claims["sub"] == user_id and claims["rsub"] == user_id
    assert claims["tId"] == "public"
    assert claims["iss"] == ISSUER and claims["role"] == "viewer"
    assert isinstance(claims["sessionHandle"], str) and isinstance(claims["refreshTokenHash1"], str)
    assert "parentRefreshTokenHash1" in claims and "antiCsrfToken" in claims
    assert claims["antiCsrfToken"] is None
    assert isinstance(claims["iat"], int) and claims["iat"] <= now
    assert claims["exp"] - claims["iat"] == DEFAULT_ACCESS_TTL_S
    assert not {"aud", "nbf", "jti", "stt"} & set(claims), claims


def test_get_session_is_verified_locally_without_core_call(frontend, sdk: Sdk, user_id: str) -> None:
    f = frontend("cookie")
    assert f.login(user_id).status_code == 200
    assert f.get("/me").status_code == 200  # JWKS is fetched (and cached) here if not yet
    get_me_locally(f, sdk, "a fresh token must verify without calling the core", times=3)


@pytest.mark.parametrize("mode", ["cookie", "header"])
def test_tampered_access_token_is_rejected(frontend, sdk: Sdk, mode: str, user_id: str) -> None:
    f = frontend(mode)
    assert f.login(user_id, payload={"role": "user"}).status_code == 200
    token = f.access_token
    head, _payload, sig = token.split(".")
    forged_claims = dict(unverified_payload(token), role="admin")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    f.set_tokens(access=f"{head}.{forged_payload}.{sig}")
    mark = sdk.recorder.mark()
    r = f.get("/me")
    assert r.status_code == 401 and r.json() == {"message": "try refresh token"}, r.text
    assert sdk.recorder.since(mark) == []  # rejected locally

    # A refresh repairs it: the new token carries the real payload again.
    assert f.refresh().status_code == 200
    r = f.get("/me")
    assert r.status_code == 200 and r.json()["payload"]["role"] == "user"


def test_signout_revokes_the_session_and_clears_tokens(frontend, user_id: str) -> None:
    f = frontend("cookie")
    handle = f.login(user_id).json()["handle"]
    r = f.signout()
    assert r.status_code == 200 and r.json() == {"status": "OK"}, r.text
    cleared = set_cookies(r)
    assert cleared["sAccessToken"].value == "" and cleared["sRefreshToken"].value == ""
    assert r.headers["front-token"] == "remove"
    assert get_session_information(handle) is None
    assert f.get("/me").status_code == 401
