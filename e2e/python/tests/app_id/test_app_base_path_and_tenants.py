"""An /appid-… base path in connection_uri, and sessions in a non-default tenant."""

from __future__ import annotations

import uuid

from supertokens_python.recipe.session import asyncio as session_async
from supertokens_python.recipe.session import syncio as session_sync

from e2e_support.harness import Sdk, run, wait_past_refresh_grace
from e2e_support.tokens import fetch_jwks, unverified_payload, verify_with_jwks

TENANT = "t1"


def test_every_core_call_goes_through_the_app_base_path(
    frontend, sdk: Sdk, app_core_url: str, user_id: str
) -> None:
    f = frontend("cookie")
    mark = sdk.recorder.mark()
    assert f.login(user_id).status_code == 200
    assert f.refresh().status_code == 200
    assert f.get("/me-db").status_code == 200
    calls = sdk.recorder.since(mark)
    assert [repr(c) for c in calls if c.path != "/apiversion"] == [
        "GET /user/id",
        "POST /public/recipe/session",
        "POST /recipe/session/refresh",
        "POST /recipe/session/verify",
    ]
    for c in calls:
        assert c.url.startswith(app_core_url + "/"), c.url
    assert "/appid-" in app_core_url


def test_tokens_verify_against_the_apps_jwks(frontend, app_core_url: str, user_id: str) -> None:
    f = frontend("header")
    assert f.login(user_id, payload={"app": "e2e"}).status_code == 200
    assert f.get("/me").status_code == 200  # local verification with the JWKS under the base path
    claims = verify_with_jwks(f.access_token, fetch_jwks(app_core_url))
    assert claims["sub"] == user_id and claims["app"] == "e2e"


def test_sessions_in_a_second_tenant(frontend, sdk: Sdk, user_id: str) -> None:
    public = frontend("header")
    r = public.login(user_id)
    assert r.status_code == 200 and r.json()["tenantId"] == "public", r.text
    public_handle = r.json()["handle"]

    tenant = frontend("header")
    mark = sdk.recorder.mark()
    r = tenant.login(user_id, payload={"t": TENANT}, tenant_id=TENANT)
    assert r.status_code == 200, r.text
    assert f"POST /{TENANT}/recipe/session" in [repr(c) for c in sdk.recorder.since(mark)]
    assert r.json()["tenantId"] == TENANT
    tenant_handle = r.json()["handle"]
    assert unverified_payload(tenant.access_token)["tId"] == TENANT

    me = tenant.get("/me")
    assert me.status_code == 200 and me.json()["tenantId"] == TENANT, me.text
    info = session_sync.get_session_information(tenant_handle)
    assert info is not None and info.tenant_id == TENANT and info.user_id == user_id

    # After a refresh the SDK takes the tenant from the new token's tId.
    assert tenant.refresh().status_code == 200
    me = tenant.get("/me")
    assert me.status_code == 200 and me.json()["tenantId"] == TENANT, me.text

    # Listing: across all tenants, or per tenant.
    assert set(run(session_async.get_all_session_handles_for_user(user_id))) == {
        public_handle,
        tenant_handle,
    }
    assert session_sync.get_all_session_handles_for_user(user_id, tenant_id=TENANT) == [tenant_handle]
    assert session_sync.get_all_session_handles_for_user(user_id, tenant_id="public") == [public_handle]

    # Revoking in one tenant leaves the other alone.
    assert session_sync.revoke_all_sessions_for_user(user_id, tenant_id=TENANT) == [tenant_handle]
    assert session_sync.get_all_session_handles_for_user(user_id) == [public_handle]
    assert tenant.get("/me-db").status_code == 401
    assert public.get("/me-db").status_code == 200


def test_theft_detection_behind_the_base_path(frontend, user_id: str) -> None:
    f = frontend("header")
    handle = f.login(user_id, tenant_id=TENANT).json()["handle"]
    first = f.refresh_token
    for _ in range(2):
        assert f.refresh().status_code == 200
        assert f.get("/me").status_code == 200
    wait_past_refresh_grace()
    thief = frontend("header")
    thief.set_tokens(refresh=first)
    r = thief.refresh()
    assert r.status_code == 401 and r.json() == {"message": "token theft detected"}, r.text
    assert session_sync.get_session_information(handle) is None
    assert session_sync.get_all_session_handles_for_user(user_id, tenant_id=TENANT) == []
    assert session_sync.get_session_information(f"unknown-{uuid.uuid4()}") is None
