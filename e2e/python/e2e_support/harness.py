"""Glue used by the conftest files: the sessiond under test and the SDK initialised against it."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Coroutine, List, TypeVar

import httpx
from fastapi import FastAPI

from .app import build_app, init_supertokens
from .observe import CoreCallRecorder, SdkLogCapture

T = TypeVar("T")

# The "expiry" profile runs an extra sessiond with these lifetimes (`--access-token-ttl`,
# `--refresh-token-ttl`; the refresh grace window must be shorter than the latter).
SHORT_ACCESS_TOKEN_TTL_S = 2
SHORT_REFRESH_TOKEN_TTL_S = 6

# The shared sessiond's --refresh-grace (run.sh exports it; sessiond's default is 10 s). Within
# this window sessiond hands any superseded refresh token the current successor (a retried
# request, a stale tab), so a replay is reported as theft only after it.
SHARED_REFRESH_GRACE_S = float(os.environ.get("E2E_REFRESH_GRACE_S", "10"))


def wait_past_refresh_grace() -> None:
    """Sleep until refresh tokens superseded so far are outside the shared refresh grace window."""
    time.sleep(SHARED_REFRESH_GRACE_S + 0.3)


@dataclass
class Core:
    """A running sessiond."""

    url: str
    api_key: str
    binary: str
    workdir: Path

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Call sessiond's own API (e.g. /sessiond/v1/keys/rotate) with the api-key header."""
        headers = {"api-key": self.api_key, **kw.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)


@dataclass
class Sdk:
    """The initialised SDK of this process: its app, and what it sent to the core and logged."""

    core_url: str
    api_key: str
    app: FastAPI
    recorder: CoreCallRecorder
    logs: SdkLogCapture
    init_warnings: List[warnings.WarningMessage] = field(default_factory=list)


def get_me_locally(frontend: Any, sdk: Sdk, why: str, times: int = 1) -> None:
    """``GET /me`` through ``frontend`` ``times`` times: each is 200, and none of them made the
    SDK call the core (the access token verified locally); ``why`` says what that shows."""
    mark = sdk.recorder.mark()
    for _ in range(times):
        r = frontend.get("/me")
        assert r.status_code == 200, r.text
    assert sdk.recorder.since(mark) == [], why


def start_sdk(core_url: str, api_key: str, **session_options: Any) -> Sdk:
    """Initialise supertokens-python against ``core_url``, passing ``session_options`` to
    ``session.init``. Once per process: the SDK's configuration is process-global."""
    recorder = CoreCallRecorder(core_url)
    logs = SdkLogCapture.install()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        init_supertokens(core_url, api_key, recorder, **session_options)
        app = build_app()
    return Sdk(core_url, api_key, app, recorder, logs, list(caught))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one of the SDK's asyncio functions from a (synchronous) test."""
    return asyncio.run(coro)
