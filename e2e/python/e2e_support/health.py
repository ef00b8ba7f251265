"""Whole-process checks run as the last test of every profile: the SDK negotiated CDI 5.4 once,
sent the right headers on every core call, and never complained about the core."""

from __future__ import annotations

from collections import Counter

from supertokens_python.querier import Querier

from .harness import Sdk
from .observe import log_complaints, warning_complaints


def assert_negotiated_cdi_5_4(sdk: Sdk) -> None:
    # The call that raises the SDK's only compatibility error ("The running SuperTokens core
    # version is not compatible with this python SDK ...") when there is no common version.
    assert Querier.api_version == "5.4"
    calls = sdk.recorder.all()
    version_calls = [c for c in calls if c.path == "/apiversion"]
    assert len(version_calls) == 1, f"/apiversion should be asked exactly once: {version_calls}"
    v = version_calls[0]
    assert v.method == "GET"
    assert v.headers.get("api-key") == sdk.api_key
    assert "cdi-version" not in v.headers
    assert v.params and v.params.get("apiDomain") == "http://localhost:3001", v.params


def assert_headers_on_every_core_call(sdk: Sdk) -> None:
    calls = [c for c in sdk.recorder.all() if c.path != "/apiversion"]
    assert len(calls) >= 3, f"suspiciously few core calls recorded: {calls}"
    for c in calls:
        assert c.headers.get("cdi-version") == "5.4", (c, c.headers)
        assert c.headers.get("api-key") == sdk.api_key, (c, c.headers)
        if "/recipe/jwt" == c.path:
            assert c.headers.get("rid") == "jwt", (c, c.headers)
        elif "/recipe/" in c.path:
            assert c.headers.get("rid") == "session", (c, c.headers)


def assert_no_complaints_in_whole_run(sdk: Sdk) -> None:
    lines = sdk.logs.all()
    # Non-vacuous: DEBUG logging of the SDK really was captured.
    texts = [line.text for line in lines]
    assert any("createNewSession: Started" in t for t in texts), texts[:20]
    assert any("getSession: Started" in t for t in texts), texts[:20]
    problems = log_complaints(lines) + warning_complaints(sdk.init_warnings)
    assert not problems, "the SDK complained about the core:\n" + "\n".join(problems)


def core_call_summary(sdk: Sdk) -> Counter:
    return Counter(f"{c.method} {c.path}" for c in sdk.recorder.all())
