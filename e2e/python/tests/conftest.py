"""Shared fixtures. Each sub-directory of tests/ is one SDK configuration ("profile") and must run
in its own pytest process, because supertokens-python's configuration is process-global.
run.sh does that; see README.md."""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Union

import pytest

from e2e_support.client import Frontend
from e2e_support.harness import Core, Sdk
from e2e_support.observe import log_complaints, warning_complaints

TESTS_DIR = Path(__file__).resolve().parent
HEALTH_CHECKS = TESTS_DIR / "health_checks.py"


class Profile(pytest.Dir):
    """A profile directory (tests/<profile>/): its own test files, then the whole-process checks
    that every profile shares (health_checks.py, one copy), collected as part of this directory so
    that they see its conftest's ``sdk`` and run after everything else in the process."""

    def collect(self) -> Iterable[Union[pytest.Item, pytest.Collector]]:
        yield from super().collect()
        yield pytest.Module.from_parent(self, path=HEALTH_CHECKS)


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    if path.resolve().parent == TESTS_DIR:
        return Profile.from_parent(parent, path=path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    profiles = {node.path.name for item in items for node in item.listchain() if isinstance(node, Profile)}
    if len(profiles) > 1:
        raise pytest.UsageError(
            f"tests from several profiles were collected ({sorted(profiles)}); the SDK's "
            "configuration is process-global, so run one profile directory per pytest "
            "process (run.sh does this)"
        )


def pytest_configure(config: pytest.Config) -> None:
    # Failure reports show the SDK's DEBUG log; the HTTP client's wire-level DEBUG is just noise.
    for noisy in ("httpcore", "hpack", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """This suite never skips: a skipped or xfailed test fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter else {}
    not_run = sum(len(stats.get(k, [])) for k in ("skipped", "xfailed", "xpassed"))
    if not_run and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"FAILED: {not_run} test(s) skipped or xfailed; this suite never skips", red=True)


# ---- sessiond and the SDK ------------------------------------------------------------------


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(
            f"{name} is not set. Run the suite with e2e/python/run.sh, which starts sessiond "
            "and sets SESSIOND_URL, SESSIOND_API_KEY, SESSIOND_BIN and E2E_WORKDIR."
        )
    return value


@pytest.fixture(scope="session")
def core() -> Core:
    """The sessiond instance run.sh started for this run."""
    return Core(
        url=_required_env("SESSIOND_URL").rstrip("/"),
        api_key=_required_env("SESSIOND_API_KEY"),
        binary=_required_env("SESSIOND_BIN"),
        workdir=Path(_required_env("E2E_WORKDIR")),
    )


@pytest.fixture(autouse=True)
def no_core_complaints(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which the SDK logged or warned about the core (version,
    compatibility, keys). Warnings are recorded for the check, then re-emitted for pytest."""
    sdk: Sdk = request.getfixturevalue("sdk")
    mark = sdk.logs.mark()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    problems = log_complaints(sdk.logs.since(mark)) + warning_complaints(caught)
    assert not problems, "the SDK complained about the core:\n" + "\n".join(problems)


@pytest.fixture
def frontend(sdk: Sdk) -> Iterator[Callable[..., Frontend]]:
    """Factory for independent browser-like clients: ``frontend("cookie")``, ``frontend("header")``."""
    made: List[Frontend] = []

    def make(mode: str = "cookie") -> Frontend:
        f = Frontend(sdk.app, mode)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


@pytest.fixture
def user_id() -> str:
    """A fresh user id, so tests never see each other's sessions."""
    return f"user-{uuid.uuid4().hex[:12]}"
