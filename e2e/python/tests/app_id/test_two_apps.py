"""Two apps on one sessiond, each with its own signing keys and JWKS
(``/appid-<id>/.well-known/jwks.json``). The SDK's configuration is process-global, so app A is
this profile's SDK (``…/appid-e2e-python``) and app B runs in a child process
(``e2e_support/peer.py``, ``…/appid-e2e-python-b``)."""

from __future__ import annotations

import time
from typing import Iterator, List

import pytest

from e2e_support.client import Frontend
from e2e_support.harness import Core
from e2e_support.peer import PeerApp, start_peer_app
from e2e_support.tokens import fetch_jwks, kids, unverified_header

APP_A_PATH = "/appid-e2e-python"  # conftest.py: this process's connection_uri
APP_B_PATH = "/appid-e2e-python-b"


@pytest.fixture
def app_b(core: Core) -> Iterator[PeerApp]:
    peer = start_peer_app(core.url + APP_B_PATH, core.api_key)
    yield peer
    peer.close()


def _kids(core: Core, app_path: str) -> List[str]:
    found = kids(fetch_jwks(core.url + app_path))
    assert found, f"{app_path} publishes keys"
    return found


def _kid(token: str) -> str:
    return unverified_header(token)["kid"]


def test_another_apps_token_fails_and_a_key_reset_stays_in_its_app(
    frontend, core: Core, app_core_url: str, app_b: PeerApp, user_id: str
) -> None:
    assert app_core_url == core.url + APP_A_PATH

    # A session in app A works in A; one in app B works in B.
    a = frontend("header")
    login_a = a.login(user_id, payload={"app": "a"})
    assert login_a.status_code == 200, login_a.text
    assert a.get("/me").status_code == 200  # local verification with A's JWKS
    assert a.get("/me-db").status_code == 200
    b = Frontend(None, "header", base_url=app_b.url)
    login_b = b.login(user_id, payload={"app": "b"})
    assert login_b.status_code == 200, login_b.text
    assert b.get("/me").status_code == 200
    assert b.get("/me-db").status_code == 200
    assert login_a.json()["handle"] != login_b.json()["handle"]

    # The two JWKS have no kid in common; each app signs with its own keys.
    kids_a, kids_b = _kids(core, APP_A_PATH), _kids(core, APP_B_PATH)
    assert set(kids_a).isdisjoint(kids_b), (kids_a, kids_b)
    assert _kid(a.access_token) in kids_a
    assert _kid(b.access_token) in kids_b

    # A's tokens presented to B's backend (same user id, same sessiond) are refused by B's SDK
    # from B's JWKS alone: no verify call reaches the core, with or without check_database.
    intruder = Frontend(None, "header", base_url=app_b.url)
    try:
        intruder.set_tokens(access=a.access_token, refresh=a.refresh_token)
        calls_before = len(app_b.report()["calls"])
        for path in ("/me", "/me-db"):
            r = intruder.get(path)
            assert r.status_code == 401, (path, r.text)
            assert r.json() == {"message": "try refresh token"}, (path, r.text)
        assert app_b.report()["calls"][calls_before:] == []
        # A's refresh token means nothing to B either: unauthorised, not theft (nothing revoked).
        r = intruder.refresh()
        assert r.status_code == 401 and r.json() == {"message": "unauthorised"}, r.text
        assert app_b.report()["calls"][calls_before:] == ["POST /recipe/session/refresh"]
    finally:
        intruder.close()
    assert a.get("/me-db").status_code == 200, "A's session is untouched"

    # A key reset in app A replaces A's keys only.
    r = core.admin("POST", APP_A_PATH + "/sessiond/v1/keys/reset")
    assert r.status_code == 200, r.text
    kids_a_after = _kids(core, APP_A_PATH)
    assert set(kids_a_after).isdisjoint(kids_a), (kids_a, kids_a_after)
    assert sorted(_kids(core, APP_B_PATH)) == sorted(kids_b)
    r = a.get("/me-db")
    assert r.status_code == 401, f"sessiond refuses A's pre-reset token: {r.text}"

    # B's session is unaffected: verify, refresh, verify the new token.
    assert b.get("/me").status_code == 200
    assert b.get("/me-db").status_code == 200
    assert b.refresh().status_code == 200
    assert _kid(b.access_token) in kids_b
    me = b.get("/me-db")
    assert me.status_code == 200, me.text
    assert me.json()["handle"] == login_b.json()["handle"]
    assert me.json()["payload"]["app"] == "b"

    # A recovers by refreshing (pre-reset refresh tokens still refresh) onto its new keys. The
    # SDK refetches the JWKS for an unknown kid once its 500 ms cool-down has passed.
    assert a.refresh().status_code == 200
    assert _kid(a.access_token) in kids_a_after
    time.sleep(0.6)
    me = a.get("/me-db")
    assert me.status_code == 200, me.text
    assert me.json()["handle"] == login_a.json()["handle"]

    # B's process negotiated CDI 5.4 and said nothing about the core.
    report = app_b.report()
    assert report["api_version"] == "5.4"
    assert report["sdk_log_lines"] > 0
    assert report["complaints"] == []
