"""Profile "static_key": Session recipe with use_dynamic_access_token_signing_key=False, so
access tokens are signed with sessiond's static key (kid not starting with "d-"), against the
sessiond instance started by run.sh."""

import pytest

from e2e_support.harness import Core, Sdk, start_sdk


@pytest.fixture(scope="session")
def sdk(core: Core) -> Sdk:
    return start_sdk(core.url, core.api_key, use_dynamic_access_token_signing_key=False)
