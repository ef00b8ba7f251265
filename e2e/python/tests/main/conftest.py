"""Profile "main": default Session recipe config (anti_csrf unset -> NONE for lax cookies),
against the sessiond instance started by run.sh."""

import pytest

from e2e_support.harness import Core, Sdk, start_sdk


@pytest.fixture(scope="session")
def sdk(core: Core) -> Sdk:
    return start_sdk(core.url, core.api_key)
