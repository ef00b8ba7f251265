"""Profile "anti_csrf": Session recipe with anti_csrf="VIA_TOKEN", against the sessiond instance
started by run.sh."""

import pytest

from e2e_support.harness import Core, Sdk, start_sdk


@pytest.fixture(scope="session")
def sdk(core: Core) -> Sdk:
    return start_sdk(core.url, core.api_key, anti_csrf="VIA_TOKEN")
