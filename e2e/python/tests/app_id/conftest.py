"""Profile "app_id": the SDK's connection_uri carries an app base path
(``http://127.0.0.1:<port>/appid-e2e-python``), as SuperTokens multi-app setups do. The SDK never
adds ``/appid-…`` itself, so every core call (``/apiversion``, the JWKS fetch, tenant-prefixed
paths) must work behind it. Sessions are also created in a second tenant."""

import pytest

from e2e_support.harness import Core, Sdk, start_sdk

APP_BASE_PATH = "/appid-e2e-python"


@pytest.fixture(scope="session")
def app_core_url(core: Core) -> str:
    return core.url + APP_BASE_PATH


@pytest.fixture(scope="session")
def sdk(core: Core, app_core_url: str) -> Sdk:
    return start_sdk(app_core_url, core.api_key)
