"""The SDK's refresh endpoint (POST /auth/session/refresh), refresh-token reuse (token theft) and
the request-less refresh API."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from supertokens_python.recipe.session.asyncio import (
    create_new_session_without_request_response,
    get_session_without_request_response,
    refresh_session_without_request_response,
)
from supertokens_python.recipe.session.exceptions import TokenTheftError, UnauthorisedError
from supertokens_python.recipe.session.syncio import (
    get_all_session_handles_for_user,
    get_session_information,
)
from supertokens_python.types import RecipeUserId

from e2e_support.client import decode_front_token
from e2e_support.harness import Sdk, get_me_locally, run, wait_past_refresh_grace
from e2e_support.tokens import unverified_payload


def settle(f, sdk: Sdk) -> None:
    """One authenticated request after a refresh (the SDK may call /recipe/session/verify once
    for a freshly refreshed token); afterwards the token must verify locally."""
    r = f.get("/me")
    assert r.status_code == 200, r.text
    get_me_locally(f, sdk, "the refreshed session should now verify locally")


@pytest.mark.parametrize("mode", ["cookie", "header"])
def test_refresh_endpoint_rotates_both_tokens(frontend, sdk: Sdk, mode: str, user_id: str) -> None:
    f = frontend(mode)
    handle = f.login(user_id, payload={"k": "v"}).json()["handle"]
    old_access, old_refresh = f.access_token, f.refresh_token

    mark = sdk.recorder.mark()
    r = f.refresh()
    assert r.status_code == 200, r.text
    calls = sdk.recorder.since(mark)
    assert [repr(c) for c in calls] == ["POST /recipe/session/refresh"], calls
    assert calls[0].body == {
        "refreshToken": old_refresh,
        "enableAntiCsrf": False,
        "useDynamicSigningKey": True,
    }
    if mode == "cookie":
        names = {c.split("=", 1)[0] for c in r.headers.get_list("set-cookie")}
        assert names == {"sAccessToken", "sRefreshToken"}
    else:
        assert r.headers["st-access-token"] and r.headers["st-refresh-token"]

    assert f.access_token != old_access and f.refresh_token != old_refresh
    claims = unverified_payload(f.access_token)
    assert claims["sessionHandle"] == handle and claims["sub"] == user_id
    assert claims["tId"] == "public" and claims["k"] == "v"
    assert decode_front_token(r.headers["front-token"])["ate"] == claims["exp"] * 1000

    settle(f, sdk)
    assert f.get("/me").json()["handle"] == handle


def test_refresh_token_reuse_is_token_theft_and_ends_the_session(
    frontend, sdk: Sdk, user_id: str
) -> None:
    f = frontend("header")
    handle = f.login(user_id).json()["handle"]
    first_refresh = f.refresh_token
    for _ in range(2):  # RT1 -> RT2 -> RT3, each successor used
        assert f.refresh().status_code == 200
        settle(f, sdk)
    latest_access, latest_refresh = f.access_token, f.refresh_token
    wait_past_refresh_grace()

    attacker = frontend("header")
    attacker.set_tokens(refresh=first_refresh)
    mark = sdk.recorder.mark()
    r = attacker.refresh()
    assert r.status_code == 401, r.text
    assert r.json() == {"message": "token theft detected"}
    # The SDK's default theft handler revokes the session it was told about ...
    calls = sdk.recorder.since(mark)
    assert [repr(c) for c in calls] == ["POST /recipe/session/refresh", "POST /recipe/session/remove"]
    assert calls[1].body == {"sessionHandles": [handle]}
    # ... and clears the tokens of the client that presented the stolen one.
    assert r.headers.get("st-access-token") == "" and r.headers.get("st-refresh-token") == ""

    # The session is gone for everyone, including the legitimate client.
    assert get_session_information(handle) is None
    assert get_all_session_handles_for_user(user_id) == []
    f.set_tokens(access=latest_access, refresh=latest_refresh)
    r = f.refresh()
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}
    f.set_tokens(access=latest_access)
    assert f.get("/me-db").status_code == 401


def test_retried_refresh_of_the_same_token_is_not_theft(frontend, sdk: Sdk, user_id: str) -> None:
    """A refresh retried with the same, not yet superseded-and-used token (e.g. a lost response
    or two tabs) must not be reported as theft."""
    f = frontend("header")
    handle = f.login(user_id).json()["handle"]
    rt = f.refresh_token
    tabs = [frontend("header") for _ in range(2)]
    for tab in tabs:
        tab.set_tokens(access=f.access_token, refresh=rt)
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda tab: tab.refresh(), tabs))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    for tab in tabs:
        r = tab.get("/me")
        assert r.status_code == 200 and r.json()["handle"] == handle, r.text
    assert get_session_information(handle) is not None


def test_request_less_create_get_refresh(sdk: Sdk, user_id: str) -> None:
    """create/get/refresh_session_without_request_response (asyncio API), as used by
    non-HTTP transports."""

    async def scenario():
        s = await create_new_session_without_request_response(
            "public", RecipeUserId(user_id), {"ws": True}, {"private": 1}
        )
        tokens = s.get_all_session_tokens_dangerously()
        assert tokens["accessToken"] and tokens["refreshToken"]
        assert tokens["antiCsrfToken"] is None
        assert tokens["accessAndFrontTokenUpdated"] is True

        got = await get_session_without_request_response(tokens["accessToken"])
        assert got is not None and got.get_handle() == s.get_handle()
        assert got.get_access_token_payload()["ws"] is True

        checked = await get_session_without_request_response(
            tokens["accessToken"], check_database=True
        )
        assert checked is not None and checked.get_user_id() == user_id

        refreshed = await refresh_session_without_request_response(tokens["refreshToken"])
        new_tokens = refreshed.get_all_session_tokens_dangerously()
        assert new_tokens["refreshToken"] != tokens["refreshToken"]
        assert refreshed.get_handle() == s.get_handle()
        assert refreshed.get_tenant_id() == "public"
        again = await get_session_without_request_response(new_tokens["accessToken"])
        assert again is not None and again.get_handle() == s.get_handle()
        assert await again.get_session_data_from_database() == {"private": 1}

        third = await refresh_session_without_request_response(new_tokens["refreshToken"])
        third_tokens = third.get_all_session_tokens_dangerously()
        await get_session_without_request_response(third_tokens["accessToken"])

        wait_past_refresh_grace()
        with pytest.raises(TokenTheftError) as theft:
            await refresh_session_without_request_response(tokens["refreshToken"])
        assert theft.value.session_handle == s.get_handle()
        assert theft.value.user_id == user_id
        assert theft.value.recipe_user_id.get_as_string() == user_id

        with pytest.raises(UnauthorisedError):
            await refresh_session_without_request_response("not-a-refresh-token")

    run(scenario())
