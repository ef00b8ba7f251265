"""anti_csrf="VIA_TOKEN": sessiond issues an anti-CSRF token with cookie-based sessions, the SDK
checks it on non-GET requests (locally, and sessiond again when the database is checked), and
refresh requires it."""

from __future__ import annotations

import pytest
from supertokens_python.recipe.session import asyncio as session_async
from supertokens_python.recipe.session import syncio as session_sync
from supertokens_python.recipe.session.exceptions import TryRefreshTokenError

from e2e_support.harness import Sdk, run
from e2e_support.tokens import unverified_payload

TRY_REFRESH = {"message": "try refresh token"}


def cookie_login(frontend, sdk: Sdk, user_id: str):
    f = frontend("cookie")
    mark = sdk.recorder.mark()
    r = f.login(user_id)
    assert r.status_code == 200, r.text
    create = [c for c in sdk.recorder.since(mark) if c.path == "/public/recipe/session"]
    assert create[0].body["enableAntiCsrf"] is True
    return f, r.json()["handle"]


def test_cookie_session_gets_an_anti_csrf_token(frontend, sdk: Sdk, user_id: str) -> None:
    f, _ = cookie_login(frontend, sdk, user_id)
    assert f.anti_csrf, "the SDK should expose sessiond's antiCsrfToken in the anti-csrf header"
    assert "anti-csrf" in f.last.headers["access-control-expose-headers"]
    assert unverified_payload(f.access_token)["antiCsrfToken"] == f.anti_csrf


def test_non_get_requests_need_the_anti_csrf_header(frontend, sdk: Sdk, user_id: str) -> None:
    f, handle = cookie_login(frontend, sdk, user_id)
    token = f.anti_csrf
    assert f.get("/me", anti_csrf=False).status_code == 200  # GET: not checked

    r = f.post("/me", anti_csrf=False)
    assert r.status_code == 401 and r.json() == TRY_REFRESH, r.text
    f.anti_csrf = "not-" + token
    r = f.post("/me")
    assert r.status_code == 401 and r.json() == TRY_REFRESH, r.text
    f.anti_csrf = token
    mark = sdk.recorder.mark()
    r = f.post("/me")
    assert r.status_code == 200 and r.json()["handle"] == handle, r.text
    assert sdk.recorder.since(mark) == []  # checked locally against the token's claim


def test_anti_csrf_checked_by_sessiond_with_check_database(sdk: Sdk, frontend, user_id: str) -> None:
    f, handle = cookie_login(frontend, sdk, user_id)
    access, anti_csrf = f.access_token, f.anti_csrf

    async def scenario():
        mark = sdk.recorder.mark()
        s = await session_async.get_session_without_request_response(
            access, anti_csrf, anti_csrf_check=True, check_database=True
        )
        assert s is not None and s.get_handle() == handle
        verify = sdk.recorder.since(mark)
        assert [repr(c) for c in verify] == ["POST /recipe/session/verify"]
        assert verify[0].body == {
            "accessToken": access,
            "antiCsrfToken": anti_csrf,
            "doAntiCsrfCheck": True,
            "enableAntiCsrf": True,
            "checkDatabase": True,
        }
        with pytest.raises(TryRefreshTokenError):
            await session_async.get_session_without_request_response(
                access, None, anti_csrf_check=True, check_database=True
            )
        with pytest.raises(TryRefreshTokenError):
            await session_async.get_session_without_request_response(
                access, "wrong-" + anti_csrf, anti_csrf_check=True
            )

    run(scenario())


def test_refresh_requires_the_anti_csrf_token(frontend, sdk: Sdk, user_id: str) -> None:
    f, handle = cookie_login(frontend, sdk, user_id)
    first_access, first_refresh, first_anti_csrf = f.access_token, f.refresh_token, f.anti_csrf

    r = f.refresh(anti_csrf=False)
    assert r.status_code == 401 and r.json() == {"message": "unauthorised"}, r.text
    # A refresh without the header must not end the session (it may be a CSRF attempt).
    assert session_sync.get_session_information(handle) is not None

    f.set_tokens(access=first_access, refresh=first_refresh)
    f.anti_csrf = first_anti_csrf
    mark = sdk.recorder.mark()
    r = f.refresh()
    assert r.status_code == 200, r.text
    body = [c for c in sdk.recorder.since(mark) if c.path == "/recipe/session/refresh"][0].body
    assert body == {
        "refreshToken": first_refresh,
        "antiCsrfToken": first_anti_csrf,
        "enableAntiCsrf": True,
        "useDynamicSigningKey": True,
    }
    assert "anti-csrf" in r.headers, "a refreshed cookie session gets a (new) anti-csrf token"
    assert unverified_payload(f.access_token)["antiCsrfToken"] == f.anti_csrf

    r = f.post("/me")
    assert r.status_code == 200 and r.json()["handle"] == handle, r.text
    if f.anti_csrf != first_anti_csrf:
        f.anti_csrf = first_anti_csrf
        r = f.post("/me")
        assert r.status_code == 401 and r.json() == TRY_REFRESH


def test_header_based_sessions_skip_anti_csrf(frontend, sdk: Sdk, user_id: str) -> None:
    f = frontend("header")
    mark = sdk.recorder.mark()
    r = f.login(user_id)
    assert r.status_code == 200, r.text
    create = [c for c in sdk.recorder.since(mark) if c.path == "/public/recipe/session"][0]
    assert create.body["enableAntiCsrf"] is False
    assert "anti-csrf" not in r.headers
    assert unverified_payload(f.access_token)["antiCsrfToken"] is None

    r = f.post("/me", anti_csrf=False)
    assert r.status_code == 200, r.text
    mark = sdk.recorder.mark()
    assert f.refresh(anti_csrf=False).status_code == 200
    body = [c for c in sdk.recorder.since(mark) if c.path == "/recipe/session/refresh"][0].body
    assert body["enableAntiCsrf"] is False and "antiCsrfToken" not in body
    assert f.post("/me", anti_csrf=False).status_code == 200
