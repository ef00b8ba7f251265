"""Signing-key rotation while sessions are live, and id tokens from the SDK's JWT/OpenId
create_jwt, verified independently with PyJWT against sessiond's /.well-known/jwks.json."""

from __future__ import annotations

import time

import jwt
import pytest
from supertokens_python.recipe.jwt.interfaces import CreateJwtOkResult
from supertokens_python.recipe.openid import asyncio as openid_async
from supertokens_python.recipe.session import asyncio as session_async
from supertokens_python.recipe.session import syncio as session_sync

from e2e_support.app import API_DOMAIN, ISSUER
from e2e_support.harness import Core, Sdk, run
from e2e_support.tokens import fetch_jwks, kids, unverified_header, verify_with_jwks

# supertokens_python.recipe.session.jwks.JWKS_REFETCH_COOLDOWN_MS: the SDK refetches the JWKS
# for an unknown kid only if its last fetch is at least this old.
SDK_JWKS_REFETCH_COOLDOWN_S = 0.5
HUNDRED_YEARS_S = 3_153_600_000  # the SDK's default validity for create_jwt, and sessiond's cap


def test_key_rotation_with_live_sessions(frontend, sdk: Sdk, core: Core, user_id: str) -> None:
    old = frontend("header")
    assert old.login(user_id, payload={"who": "old"}).status_code == 200
    assert old.get("/me").status_code == 200
    old_token = old.access_token
    old_kid = unverified_header(old_token)["kid"]

    assert core.admin("POST", "/sessiond/v1/keys/rotate", headers={"api-key": "wrong" * 8}).status_code == 401
    r = core.admin("POST", "/sessiond/v1/keys/rotate")
    assert r.status_code == 200, r.text
    new_kid = r.json()["key"]["kid"]
    assert new_kid != old_kid and new_kid.startswith("d-")

    jwks = fetch_jwks(core.url)
    assert old_kid in kids(jwks) and new_kid in kids(jwks)

    # Live sessions keep working: the old token still verifies (locally, from the SDK's cache).
    mark = sdk.recorder.mark()
    r = old.get("/me")
    assert r.status_code == 200 and r.json()["payload"]["who"] == "old", r.text
    assert sdk.recorder.since(mark) == []
    assert verify_with_jwks(old_token, jwks)["sub"] == user_id

    # New sessions are signed with the new key, and the SDK picks the new kid up from the JWKS.
    new = frontend("header")
    assert new.login(user_id, payload={"who": "new"}).status_code == 200
    assert unverified_header(new.access_token)["kid"] == new_kid
    time.sleep(SDK_JWKS_REFETCH_COOLDOWN_S + 0.1)
    mark = sdk.recorder.mark()
    r = new.get("/me")
    assert r.status_code == 200 and r.json()["payload"]["who"] == "new", r.text
    assert sdk.recorder.since(mark) == []
    assert verify_with_jwks(new.access_token, fetch_jwks(core.url))["sub"] == user_id

    # Refreshing the old session moves it to the new key.
    assert old.refresh().status_code == 200
    assert unverified_header(old.access_token)["kid"] == new_kid
    r = old.get("/me")
    assert r.status_code == 200 and r.json()["payload"]["who"] == "old", r.text
    # The pre-rotation token is still accepted after all that.
    old.set_tokens(access=old_token)
    assert old.get("/me").status_code == 200


def _create_jwt_ok(result) -> str:
    assert isinstance(result, CreateJwtOkResult), result
    return result.jwt


def test_openid_create_jwt_verifies_with_pyjwt(sdk: Sdk, core: Core, user_id: str) -> None:
    mark = sdk.recorder.mark()
    token = _create_jwt_ok(
        run(openid_async.create_jwt({"sub": user_id, "aud": "my-client", "scope": "read"}, 600))
    )
    calls = sdk.recorder.since(mark)
    assert [repr(c) for c in calls] == ["POST /recipe/jwt"]
    assert calls[0].body == {
        "payload": {"iss": ISSUER, "sub": user_id, "aud": "my-client", "scope": "read"},
        "validity": 600,
        "useStaticSigningKey": True,
        "algorithm": "RS256",
        "jwksDomain": API_DOMAIN,
    }

    header = unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert not header["kid"].startswith("d-"), "default is the static signing key"
    claims = verify_with_jwks(
        token, fetch_jwks(core.url), audience="my-client", issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "sub", "aud"]},
    )
    assert claims["sub"] == user_id and claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - time.time()) < 60

    # A tampered id token does not verify.
    head, payload, sig = token.split(".")
    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_jwks(f"{head}.{payload}.{sig[:-4]}AAAA", fetch_jwks(core.url), audience="my-client")


def test_create_jwt_dynamic_key_longest_and_default_validity(
    sdk: Sdk, core: Core, user_id: str
) -> None:
    dynamic = _create_jwt_ok(
        session_sync.create_jwt({"sub": user_id}, 60, use_static_signing_key=False)
    )
    assert unverified_header(dynamic)["kid"].startswith("d-")
    assert verify_with_jwks(dynamic, fetch_jwks(core.url))["iss"] == ISSUER

    # Without a validity the SDK asks for 100 years: sessiond's cap, signed.
    mark = sdk.recorder.mark()
    default = _create_jwt_ok(run(session_async.create_jwt({"sub": user_id})))
    calls = sdk.recorder.since(mark)
    assert [repr(c) for c in calls] == ["POST /recipe/jwt"]
    assert calls[0].body["validity"] == HUNDRED_YEARS_S
    claims = verify_with_jwks(default, fetch_jwks(core.url))
    assert claims["exp"] - claims["iat"] == HUNDRED_YEARS_S

    # One second more is a 400 INVALID_INPUT, which the SDK raises.
    with pytest.raises(Exception, match=r"'/recipe/jwt' with status code: 400 .*INVALID_INPUT"):
        session_sync.create_jwt({"sub": user_id}, HUNDRED_YEARS_S + 1)


def test_sdk_jwks_and_openid_endpoints_match_sessiond(frontend, core: Core) -> None:
    jwks = fetch_jwks(core.url)
    f = frontend("header")
    r = f.http.get("/auth/jwt/jwks.json")
    assert r.status_code == 200, r.text
    assert sorted(kids(r.json())) == sorted(kids(jwks))
    for key in r.json()["keys"]:
        assert set(key) == {"kty", "kid", "n", "e", "alg", "use"}
    via_sdk = run(session_async.get_jwks())
    assert sorted(k.kid for k in via_sdk.keys) == sorted(kids(jwks))

    r = f.http.get("/auth/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    assert r.json()["issuer"] == ISSUER
    assert r.json()["jwks_uri"] == ISSUER + "/jwt/jwks.json"
