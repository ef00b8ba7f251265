"""A minimal "frontend": drives the FastAPI app over HTTP the way supertokens-web-js does.

* cookie mode: tokens travel in ``sAccessToken`` / ``sRefreshToken`` cookies (kept by the
  client's cookie jar), the ``anti-csrf`` response header is remembered and sent back on request.
* header mode: tokens come back in ``st-access-token`` / ``st-refresh-token`` response headers and
  are sent as ``Authorization: Bearer <token>`` (the refresh token only to the refresh endpoint).

Requests go through Starlette's TestClient (the ASGI app runs in-process, so no sockets are
opened for the app itself); the SDK inside the app talks to sessiond over loopback HTTP. A
frontend for an app in another process (``Frontend(None, mode, base_url=…)``) uses plain httpx.
"""

from __future__ import annotations

import base64
import json
from http.cookies import Morsel, SimpleCookie
from typing import Any, Dict, Optional

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .app import API_BASE_PATH, API_DOMAIN

REFRESH_PATH = API_BASE_PATH + "/session/refresh"
SIGNOUT_PATH = API_BASE_PATH + "/signout"


def decode_front_token(value: str) -> Dict[str, Any]:
    """front-token = base64(JSON {uid, ate, up}) (standard base64, as the SDK writes it)."""
    return json.loads(base64.b64decode(value + "=" * (-len(value) % 4)).decode())


def set_cookies(response: httpx.Response) -> Dict[str, "Morsel[str]"]:
    """The cookies a response sets, parsed (name -> Morsel with value, path, expires, ...)."""
    cookies: Dict[str, "Morsel[str]"] = {}
    for raw in response.headers.get_list("set-cookie"):
        jar: "SimpleCookie" = SimpleCookie()
        jar.load(raw)
        cookies.update(jar)
    return cookies


class Frontend:
    def __init__(self, app: Optional[FastAPI], mode: str = "cookie", base_url: Optional[str] = None):
        """Drives ``app`` in-process, or (``app=None``) a backend served at ``base_url``, such as
        another process's app (see ``peer.py``)."""
        assert mode in ("cookie", "header")
        assert (app is None) != (base_url is None), "give an app or a base_url"
        self.mode = mode
        self.http: httpx.Client = (
            TestClient(app, base_url=API_DOMAIN, raise_server_exceptions=True)
            if app is not None
            else httpx.Client(base_url=base_url, timeout=10)
        )
        self._access: Optional[str] = None  # header mode
        self._refresh: Optional[str] = None  # header mode
        self.anti_csrf: Optional[str] = None
        self.front_token: Optional[str] = None
        self.last: Optional[httpx.Response] = None

    # ---- token state -------------------------------------------------------------------------
    def _cookie(self, name: str) -> Optional[str]:
        for cookie in self.http.cookies.jar:
            if cookie.name == name:
                return cookie.value
        return None

    @property
    def access_token(self) -> Optional[str]:
        return self._cookie("sAccessToken") if self.mode == "cookie" else self._access

    @property
    def refresh_token(self) -> Optional[str]:
        return self._cookie("sRefreshToken") if self.mode == "cookie" else self._refresh

    def set_tokens(self, access: Optional[str] = None, refresh: Optional[str] = None) -> None:
        """Replace the tokens the frontend holds (e.g. to replay an old refresh token)."""
        if self.mode == "header":
            if access is not None:
                self._access = access
            if refresh is not None:
                self._refresh = refresh
            return
        if access is not None:
            self.http.cookies.set("sAccessToken", access, domain="localhost.local", path="/")
        if refresh is not None:
            self.http.cookies.set(
                "sRefreshToken", refresh, domain="localhost.local", path=REFRESH_PATH
            )

    def _absorb(self, response: httpx.Response) -> httpx.Response:
        self.last = response
        headers = response.headers
        if "st-access-token" in headers:
            self._access = headers["st-access-token"] or None
        if "st-refresh-token" in headers:
            self._refresh = headers["st-refresh-token"] or None
        if "anti-csrf" in headers:
            self.anti_csrf = headers["anti-csrf"] or None
        if "front-token" in headers:
            value = headers["front-token"]
            self.front_token = None if value in ("", "remove") else value
        return response

    def _headers(
        self, use_refresh: bool = False, anti_csrf: Optional[bool] = None
    ) -> Dict[str, str]:
        h = {"st-auth-mode": self.mode, "rid": "session"}
        if self.mode == "header":
            token = self._refresh if use_refresh else self._access
            if token:
                h["authorization"] = f"Bearer {token}"
        send_anti_csrf = anti_csrf if anti_csrf is not None else True
        if send_anti_csrf and self.anti_csrf:
            h["anti-csrf"] = self.anti_csrf
        return h

    # ---- requests ----------------------------------------------------------------------------
    def login(
        self,
        user_id: str,
        payload: Optional[dict] = None,
        data: Optional[dict] = None,
        tenant_id: Optional[str] = None,
    ) -> httpx.Response:
        body: Dict[str, Any] = {"userId": user_id}
        if tenant_id is not None:
            body["tenantId"] = tenant_id
        if payload is not None:
            body["payload"] = payload
        if data is not None:
            body["data"] = data
        return self._absorb(self.http.post("/login", json=body, headers=self._headers()))

    def get(self, path: str, anti_csrf: Optional[bool] = None, **kw: Any) -> httpx.Response:
        return self._absorb(self.http.get(path, headers=self._headers(anti_csrf=anti_csrf), **kw))

    def post(
        self, path: str, json_body: Any = None, anti_csrf: Optional[bool] = None, **kw: Any
    ) -> httpx.Response:
        return self._absorb(
            self.http.post(path, json=json_body, headers=self._headers(anti_csrf=anti_csrf), **kw)
        )

    def put(self, path: str, json_body: Any = None, **kw: Any) -> httpx.Response:
        return self._absorb(self.http.put(path, json=json_body, headers=self._headers(), **kw))

    def refresh(self, anti_csrf: Optional[bool] = None) -> httpx.Response:
        return self._absorb(
            self.http.post(REFRESH_PATH, headers=self._headers(use_refresh=True, anti_csrf=anti_csrf))
        )

    def signout(self) -> httpx.Response:
        return self._absorb(self.http.post(SIGNOUT_PATH, headers=self._headers()))

    def close(self) -> None:
        self.http.close()
