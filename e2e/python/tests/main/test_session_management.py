"""Session management through the SDK's asyncio/syncio functions and SessionContainer methods:
revoke_session, revoke_all_sessions_for_user, get_all_session_handles_for_user,
get_session_information, update_session_data_in_database, merge_into_access_token_payload,
and check_database."""

from __future__ import annotations

import time
import uuid

import pytest
from supertokens_python.recipe.session import asyncio as session_async
from supertokens_python.recipe.session import syncio as session_sync
from supertokens_python.recipe.session.exceptions import UnauthorisedError

from e2e_support.app import ISSUER
from e2e_support.client import set_cookies
from e2e_support.harness import Sdk, run
from e2e_support.tokens import unverified_payload

REFRESH_TTL_MS = 8_640_000 * 1000


def login(frontend, user_id: str, mode: str = "header", **kw):
    f = frontend(mode)
    r = f.login(user_id, **kw)
    assert r.status_code == 200, r.text
    return f, r.json()["handle"]


def test_get_session_information(frontend, user_id: str) -> None:
    before = int(time.time() * 1000)
    _, handle = login(frontend, user_id, payload={"role": "admin"}, data={"cart": ["x"]})
    info = run(session_async.get_session_information(handle))
    assert info is not None
    assert info.session_handle == handle
    assert info.user_id == user_id
    assert info.recipe_user_id.get_as_string() == user_id
    assert info.tenant_id == "public"
    assert info.session_data_in_database == {"cart": ["x"]}
    assert info.custom_claims_in_access_token_payload == {"role": "admin", "iss": ISSUER}
    now = int(time.time() * 1000)
    assert before - 1000 <= info.time_created <= now  # ms since epoch
    assert abs(info.expiry - (info.time_created + REFRESH_TTL_MS)) < 120_000  # ms since epoch

    assert session_sync.get_session_information(f"no-such-{uuid.uuid4()}") is None


def test_update_session_data_in_database(frontend, user_id: str) -> None:
    f, handle = login(frontend, user_id, data={"v": 1})
    assert run(session_async.update_session_data_in_database(handle, {"v": 2, "nested": {"a": [1]}}))
    assert session_sync.get_session_information(handle).session_data_in_database == {
        "v": 2,
        "nested": {"a": [1]},
    }
    # Replaces, not merges.
    assert session_sync.update_session_data_in_database(handle, {"only": True})
    r = f.get("/data")
    assert r.status_code == 200 and r.json()["data"] == {"only": True}, r.text

    # Through the SessionContainer of a request.
    r = f.put("/data", {"from": "request"})
    assert r.status_code == 200 and r.json()["data"] == {"from": "request"}
    info = session_sync.get_session_information(handle)
    assert info.session_data_in_database == {"from": "request"}
    r = f.get("/data")
    assert r.json()["timeCreated"] == info.time_created and r.json()["expiry"] == info.expiry

    assert session_sync.update_session_data_in_database(f"no-such-{uuid.uuid4()}", {}) is False


def test_merge_into_access_token_payload_by_handle(frontend, sdk: Sdk, user_id: str) -> None:
    f, handle = login(frontend, user_id, mode="cookie", payload={"role": "user", "keep": 1})
    assert run(session_async.merge_into_access_token_payload(handle, {"role": "admin", "x": [1]}))
    info = session_sync.get_session_information(handle)
    assert info.custom_claims_in_access_token_payload == {
        "role": "admin",
        "keep": 1,
        "x": [1],
        "iss": ISSUER,
    }
    # A None value removes the claim.
    assert session_sync.merge_into_access_token_payload(handle, {"x": None})
    assert "x" not in session_sync.get_session_information(handle).custom_claims_in_access_token_payload

    # The token the browser holds is stale; a database-checked request gets a fresh one.
    stale = f.access_token
    assert unverified_payload(stale)["role"] == "user"
    r = f.get("/me-db")
    assert r.status_code == 200, r.text
    assert r.json()["payload"]["role"] == "admin" and "x" not in r.json()["payload"]
    assert f.access_token != stale, "a re-issued access token should have been set"
    claims = unverified_payload(f.access_token)
    assert claims["role"] == "admin" and claims["keep"] == 1 and claims["sessionHandle"] == handle
    assert f.get("/me").json()["payload"]["role"] == "admin"

    # And a refresh carries the new payload too.
    assert f.refresh().status_code == 200
    assert unverified_payload(f.access_token)["role"] == "admin"

    assert session_sync.merge_into_access_token_payload(f"no-such-{uuid.uuid4()}", {"a": 1}) is False


@pytest.mark.parametrize("mode", ["cookie", "header"])
def test_session_merge_into_access_token_payload_in_request(
    frontend, sdk: Sdk, mode: str, user_id: str
) -> None:
    f, handle = login(frontend, user_id, mode=mode, payload={"step": 1})
    old = unverified_payload(f.access_token)
    mark = sdk.recorder.mark()
    r = f.post("/merge", {"step": 2, "extra": "yes"})
    assert r.status_code == 200, r.text
    assert [repr(c) for c in sdk.recorder.since(mark)] == ["POST /recipe/session/regenerate"]
    assert r.json()["payload"]["step"] == 2

    new = unverified_payload(f.access_token)
    assert new["step"] == 2 and new["extra"] == "yes"
    assert new["exp"] == old["exp"], "regenerate keeps the access token's expiry"
    assert new["sessionHandle"] == handle
    r = f.get("/me")
    assert r.status_code == 200 and r.json()["payload"]["extra"] == "yes"
    custom = session_sync.get_session_information(handle).custom_claims_in_access_token_payload
    assert custom["step"] == 2 and custom["extra"] == "yes"


def test_revoke_session(frontend, sdk: Sdk, user_id: str) -> None:
    f, handle = login(frontend, user_id, mode="cookie")
    assert f.get("/me-db").status_code == 200
    assert run(session_async.revoke_session(handle)) is True
    assert run(session_async.revoke_session(handle)) is False  # already gone
    assert session_sync.get_session_information(handle) is None

    # check_database catches the revocation; the SDK clears the tokens.
    mark = sdk.recorder.mark()
    r = f.get("/me-db")
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}, r.text
    verify = [c for c in sdk.recorder.since(mark) if c.path == "/recipe/session/verify"]
    assert len(verify) == 1 and verify[0].body["checkDatabase"] is True
    cleared = set_cookies(r)
    assert cleared["sAccessToken"].value == "" and cleared["sRefreshToken"].value == ""


def test_revoked_session_cannot_refresh_and_stateless_checks_until_expiry(
    frontend, user_id: str
) -> None:
    f, handle = login(frontend, user_id, mode="header")
    token = f.access_token
    assert session_sync.revoke_session(handle) is True
    # Without check_database the access token stays valid until it expires (by design) ...
    assert f.get("/me").status_code == 200
    # ... but the session can no longer be refreshed or pass a database check.
    # Calls that need the session in sessiond fail as UNAUTHORISED (401) too.
    r = f.post("/merge", {"late": 1})  # regenerate
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}, r.text
    f.set_tokens(access=token)
    r = f.put("/data", {"late": 1})  # PUT /recipe/session/data
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}, r.text
    f.set_tokens(access=token)
    r = f.refresh()
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}

    async def checked():
        with pytest.raises(UnauthorisedError):
            await session_async.get_session_without_request_response(token, check_database=True)

    run(checked())


def test_check_database_on_a_live_session_calls_verify(frontend, sdk: Sdk, user_id: str) -> None:
    f, handle = login(frontend, user_id, mode="header")
    mark = sdk.recorder.mark()
    r = f.get("/me-db")
    assert r.status_code == 200 and r.json()["handle"] == handle, r.text
    calls = sdk.recorder.since(mark)
    assert [repr(c) for c in calls] == ["POST /recipe/session/verify"]
    assert calls[0].body == {
        "accessToken": f.access_token,
        "doAntiCsrfCheck": False,
        "enableAntiCsrf": False,
        "checkDatabase": True,
    }


def test_get_all_session_handles_and_revoke_all_sessions_for_user(frontend, user_id: str) -> None:
    other = f"other-{uuid.uuid4().hex[:8]}"
    handles = {login(frontend, user_id)[1] for _ in range(3)}
    other_handle = login(frontend, other)[1]

    assert set(run(session_async.get_all_session_handles_for_user(user_id))) == handles
    assert set(session_sync.get_all_session_handles_for_user(user_id, tenant_id="public")) == handles
    assert session_sync.get_all_session_handles_for_user(f"nobody-{uuid.uuid4()}") == []

    revoked = run(session_async.revoke_all_sessions_for_user(user_id))
    assert set(revoked) == handles
    assert session_sync.get_all_session_handles_for_user(user_id) == []
    for h in handles:
        assert session_sync.get_session_information(h) is None
    # Other users are untouched.
    assert session_sync.get_all_session_handles_for_user(other) == [other_handle]

    # Without linked accounts (sessiond has no account linking: same result).
    assert session_sync.get_all_session_handles_for_user(
        other, fetch_sessions_for_linked_accounts=False
    ) == [other_handle]
    assert session_sync.revoke_all_sessions_for_user(
        f"nobody-{uuid.uuid4()}", revoke_sessions_for_linked_accounts=False
    ) == []

    # The tenant-scoped variant (POST /public/recipe/session/remove).
    assert session_sync.revoke_all_sessions_for_user(other, tenant_id="public") == [other_handle]
    assert session_sync.get_all_session_handles_for_user(other) == []
    assert session_sync.revoke_all_sessions_for_user(other) == []


def test_revoke_multiple_sessions(frontend, user_id: str) -> None:
    handles = [login(frontend, user_id)[1] for _ in range(3)]
    unknown = f"no-such-{uuid.uuid4()}"
    revoked = session_sync.revoke_multiple_sessions([handles[0], handles[1], unknown])
    assert set(revoked) == {handles[0], handles[1]}
    assert session_sync.get_all_session_handles_for_user(user_id) == [handles[2]]


def test_core_paths_used_by_session_management(sdk: Sdk, frontend, user_id: str) -> None:
    """The exact core endpoints (with and without the tenant segment) the SDK used above."""
    mark = sdk.recorder.mark()
    _, handle = login(frontend, user_id)
    session_sync.get_all_session_handles_for_user(user_id)
    session_sync.get_all_session_handles_for_user(user_id, tenant_id="public")
    session_sync.get_session_information(handle)
    session_sync.update_session_data_in_database(handle, {"a": 1})
    session_sync.merge_into_access_token_payload(handle, {"b": 2})
    session_sync.revoke_all_sessions_for_user(user_id, tenant_id="public")
    session_sync.revoke_all_sessions_for_user(user_id)
    calls = [c for c in sdk.recorder.since(mark) if c.path not in ("/apiversion", "/user/id")]
    assert [repr(c) for c in calls] == [
        "POST /public/recipe/session",
        "GET /recipe/session/user",
        "GET /public/recipe/session/user",
        "GET /recipe/session",
        "PUT /recipe/session/data",
        "GET /recipe/session",  # merge_into_access_token_payload reads the current payload
        "PUT /recipe/jwt/data",
        "POST /public/recipe/session/remove",
        "POST /recipe/session/remove",
    ], calls


@pytest.mark.parametrize(
    "prefix", ["alice+tag@example.com", "名前 with space/slash?&=#", "%2F%20already-encoded"]
)
def test_unusual_user_ids_and_payload_values(frontend, prefix: str) -> None:
    """User ids travel in JSON bodies and in query strings (GET /recipe/session/user?userId=)."""
    uid = f"{prefix}-{uuid.uuid4().hex[:6]}"
    payload = {"ünï": "cødé ✓", "nested": {"list": [1, 2.5, None, True], "empty": {}}, "big": 2**53}
    f, handle = login(frontend, uid, mode="cookie", payload=payload, data={"emoji": "🙂"})
    me = f.get("/me")
    assert me.status_code == 200, me.text
    assert me.json()["userId"] == uid
    for key, value in payload.items():
        assert me.json()["payload"][key] == value
    info = session_sync.get_session_information(handle)
    assert info.user_id == uid and info.session_data_in_database == {"emoji": "🙂"}
    assert session_sync.get_all_session_handles_for_user(uid) == [handle]
    assert session_sync.get_all_session_handles_for_user(uid, tenant_id="public") == [handle]
    assert session_sync.revoke_all_sessions_for_user(uid) == [handle]
    assert session_sync.get_all_session_handles_for_user(uid) == []


def test_session_claims_set_get_remove_and_validation(frontend, sdk: Sdk, user_id: str) -> None:
    """Custom claims: in-request refetch (regenerate), set/get/remove by handle (jwt/data),
    and a database-checked request picking the new value up."""
    from e2e_support.app import VERIFIED_CLAIM

    f, handle = login(frontend, user_id, mode="header")
    mark = sdk.recorder.mark()
    r = f.get("/needs-claim")
    # No value yet: the SDK fetches it (False), stores it via regenerate, then rejects.
    assert r.status_code == 403, r.text
    assert r.json()["message"] == "invalid claim"
    assert r.json()["claimValidationErrors"][0]["id"] == "e2e-verified"
    assert "POST /recipe/session/regenerate" in [repr(c) for c in sdk.recorder.since(mark)]
    stored = session_sync.get_session_information(handle).custom_claims_in_access_token_payload
    assert stored["e2e-verified"]["v"] is False

    assert session_sync.set_claim_value(handle, VERIFIED_CLAIM, True) is True
    got = session_sync.get_claim_value(handle, VERIFIED_CLAIM)
    assert got.value is True  # type: ignore[union-attr]
    r = f.get("/me-db")  # the held token is stale: sessiond re-issues it with the stored payload
    assert r.status_code == 200, r.text
    assert unverified_payload(f.access_token)["e2e-verified"]["v"] is True
    r = f.get("/needs-claim")
    assert r.status_code == 200, r.text

    assert run(session_async.remove_claim(handle, VERIFIED_CLAIM)) is True
    assert session_sync.get_claim_value(handle, VERIFIED_CLAIM).value is None  # type: ignore[union-attr]
    assert "e2e-verified" not in session_sync.get_session_information(
        handle
    ).custom_claims_in_access_token_payload

    unknown = f"no-such-{uuid.uuid4()}"
    assert session_sync.set_claim_value(unknown, VERIFIED_CLAIM, True) is False
    assert isinstance(
        session_sync.get_claim_value(unknown, VERIFIED_CLAIM), session_async.SessionDoesNotExistError
    )
