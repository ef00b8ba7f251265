"""Profile "expiry": default Session recipe config against an extra sessiond started here with
``--access-token-ttl 2 --refresh-token-ttl 6 --refresh-grace 1``, so access tokens and whole
sessions expire within the test."""

from typing import Iterator

import pytest

from e2e_support.harness import (
    SHORT_ACCESS_TOKEN_TTL_S,
    SHORT_REFRESH_TOKEN_TTL_S,
    Core,
    Sdk,
    start_sdk,
)
from e2e_support.sessiond import Sessiond, new_api_key


@pytest.fixture(scope="session")
def short_ttl_core(core: Core) -> Iterator[Core]:
    server = Sessiond(
        binary=core.binary,
        workdir=core.workdir / "expiry",
        api_key=new_api_key(),
        extra_args=[
            "--access-token-ttl",
            str(SHORT_ACCESS_TOKEN_TTL_S),
            "--refresh-token-ttl",
            str(SHORT_REFRESH_TOKEN_TTL_S),
            "--refresh-grace",
            "1",
        ],
        name="sessiond-short-ttl",
    )
    with server:
        yield Core(url=server.url, api_key=server.api_key, binary=core.binary, workdir=server.workdir)


@pytest.fixture(scope="session")
def sdk(short_ttl_core: Core) -> Sdk:
    return start_sdk(short_ttl_core.url, short_ttl_core.api_key)
