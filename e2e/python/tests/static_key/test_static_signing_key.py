"""use_dynamic_access_token_signing_key=False: sessions signed with sessiond's static key, and
recovery of a session whose token was signed with the other kind of key."""

from __future__ import annotations

import uuid

from supertokens_python.recipe.session import syncio as session_sync

from e2e_support.app import ISSUER
from e2e_support.harness import Core, Sdk, get_me_locally
from e2e_support.tokens import fetch_jwks, unverified_header, verify_with_jwks

TRY_REFRESH = {"message": "try refresh token"}


def test_sessions_use_the_static_key(frontend, sdk: Sdk, core: Core, user_id: str) -> None:
    f = frontend("header")
    mark = sdk.recorder.mark()
    assert f.login(user_id, payload={"k": 1}).status_code == 200
    create = [c for c in sdk.recorder.since(mark) if c.path == "/public/recipe/session"][0]
    assert create.body["useDynamicSigningKey"] is False
    static_kid = unverified_header(f.access_token)["kid"]
    assert not static_kid.startswith("d-"), static_kid
    assert verify_with_jwks(f.access_token, fetch_jwks(core.url))["sub"] == user_id

    get_me_locally(f, sdk, "verified locally with the static key")

    mark = sdk.recorder.mark()
    assert f.refresh().status_code == 200
    refresh = [c for c in sdk.recorder.since(mark) if c.path == "/recipe/session/refresh"][0]
    assert refresh.body["useDynamicSigningKey"] is False
    assert unverified_header(f.access_token)["kid"] == static_kid
    r = f.get("/me")
    assert r.status_code == 200 and r.json()["payload"]["k"] == 1, r.text


def test_dynamic_key_rotation_leaves_static_sessions_alone(frontend, core: Core, user_id: str) -> None:
    f = frontend("cookie")
    assert f.login(user_id).status_code == 200
    kid = unverified_header(f.access_token)["kid"]
    r = core.admin("POST", "/sessiond/v1/keys/rotate")
    assert r.status_code == 200, r.text
    assert f.get("/me").status_code == 200
    assert f.refresh().status_code == 200
    assert unverified_header(f.access_token)["kid"] == kid
    assert f.get("/me").status_code == 200


def test_token_signed_with_the_other_key_kind_recovers_by_refresh(
    frontend, sdk: Sdk, core: Core
) -> None:
    """A session created with useDynamicSigningKey=true (e.g. before the app changed this
    setting) is rejected by this SDK (kid "d-…" vs a static-key config); the refresh must
    re-sign it with the static key, as the SDK relies on ("Refresh always re-signs with the
    requested kind")."""
    user = f"switch-{uuid.uuid4().hex[:8]}"
    r = core.admin(
        "POST",
        "/public/recipe/session",
        headers={"cdi-version": "5.4", "rid": "session"},
        json={
            "userId": user,
            "userDataInJWT": {"iss": ISSUER},
            "userDataInDatabase": {},
            "useDynamicSigningKey": True,
            "enableAntiCsrf": False,
        },
    )
    assert r.status_code == 200 and r.json()["status"] == "OK", r.text
    created = r.json()
    assert unverified_header(created["accessToken"]["token"])["kid"].startswith("d-")

    f = frontend("header")
    f.set_tokens(access=created["accessToken"]["token"], refresh=created["refreshToken"]["token"])
    mark = sdk.recorder.mark()
    r = f.get("/me")
    assert r.status_code == 401 and r.json() == TRY_REFRESH, r.text
    assert sdk.recorder.since(mark) == []

    assert f.refresh().status_code == 200
    assert not unverified_header(f.access_token)["kid"].startswith("d-")
    r = f.get("/me")
    assert r.status_code == 200 and r.json()["handle"] == created["session"]["handle"], r.text
    assert session_sync.get_all_session_handles_for_user(user) == [created["session"]["handle"]]
