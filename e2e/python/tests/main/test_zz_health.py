"""Runs last in this profile (pytest collects files alphabetically): whole-process checks."""

from e2e_support.harness import Sdk
from e2e_support.health import (
    assert_headers_on_every_core_call,
    assert_negotiated_cdi_5_4,
    assert_no_complaints_in_whole_run,
)


def test_sdk_negotiated_cdi_5_4_once_without_compatibility_error(sdk: Sdk) -> None:
    assert_negotiated_cdi_5_4(sdk)


def test_every_core_call_carried_cdi_version_api_key_and_rid(sdk: Sdk) -> None:
    assert_headers_on_every_core_call(sdk)


def test_sdk_logged_and_warned_nothing_about_the_core(sdk: Sdk) -> None:
    assert_no_complaints_in_whole_run(sdk)


def test_complaint_detector_recognises_the_sdks_compatibility_error() -> None:
    """Guard against a vacuous check: the detector flags the SDK's real error text."""
    import logging
    import warnings

    from e2e_support.observe import LogLine, log_complaints, warning_complaints

    sdk_error = (
        "The running SuperTokens core version is not compatible with this python SDK. Please "
        "visit https://supertokens.io/docs/community/compatibility-table to find the right versions"
    )
    assert log_complaints([LogLine(logging.DEBUG, "com.supertokens", sdk_error)])
    assert log_complaints([LogLine(logging.WARNING, "com.supertokens", "anything")])
    assert not log_complaints([LogLine(logging.DEBUG, "com.supertokens", "getSession: Started")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("The specified key is 1024 bits which is below the minimum of 2048 (insecure key)")
    assert warning_complaints(caught)
