"""Whole-process checks, one copy for every profile: tests/conftest.py collects this file into each
profile directory (tests/<profile>/) after that profile's own test files, so these run last and use
the profile's ``sdk``. The name does not match ``test_*.py``, so pytest never collects it on its own."""

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
