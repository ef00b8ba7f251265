"""The complaint detector the autouse fixture and tests/health_checks.py rely on is not vacuous."""

import logging
import warnings

from e2e_support.observe import LogLine, log_complaints, warning_complaints


def test_complaint_detector_recognises_the_sdks_compatibility_error() -> None:
    """Guard against a vacuous check: the detector flags the SDK's real error text."""
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
