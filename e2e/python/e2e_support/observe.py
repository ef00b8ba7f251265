"""Observers: what the SDK sent to sessiond, and what the SDK logged or warned.

* ``CoreCallRecorder`` is installed as the SDK's public ``SupertokensConfig.network_interceptor``.
  The SDK calls it just before every request to the core (method, URL, headers, query params,
  JSON body) and sends whatever it returns, so the recorder returns its input unchanged. (The
  JWKS fetch used for local verification does not go through the querier, so it is not seen.)
  Cached GETs (the SDK caches core GETs per request ``user_context``) are not re-sent and not seen.
* ``SdkLogCapture`` is a ``logging.Handler`` on the SDK's ``com.supertokens`` logger at DEBUG.
* ``complaints()`` picks out log records and ``warnings`` that are about the core: its version,
  compatibility, or its keys.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Generic, Iterable, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

SDK_LOGGER = "com.supertokens"

T = TypeVar("T")

# Phrases an SDK would use when it is unhappy with the core it talks to. The SDK's only
# compatibility error is "The running SuperTokens core version is not compatible with this
# python SDK ..."; the rest guard against future phrasing and other parts of the stack
# (e.g. PyJWT's InsecureKeyLengthWarning for short RSA keys served by the core's JWKS).
COMPLAINT_RE = re.compile(
    r"compatib|not supported|unsupported|please upgrade|upgrade the supertokens|core version"
    r"|cdi[- ]?version|deprecated.*core|insecure ?key|key length|too short",
    re.IGNORECASE,
)


@dataclass
class CoreCall:
    method: str
    url: str
    path: str
    headers: Dict[str, Any]
    params: Optional[Dict[str, Any]]
    body: Optional[Dict[str, Any]]

    def __repr__(self) -> str:  # short form for assertion messages
        return f"{self.method} {self.path}"


class Journal(Generic[T]):
    """Entries appended from any thread: ``mark()`` where it stands now, ``since(mark)`` what came
    after, ``all()`` everything."""

    def __init__(self) -> None:
        self._journal_lock = threading.Lock()
        self._entries: List[T] = []

    def _append(self, entry: T) -> None:
        with self._journal_lock:
            self._entries.append(entry)

    def mark(self) -> int:
        with self._journal_lock:
            return len(self._entries)

    def since(self, mark: int) -> List[T]:
        with self._journal_lock:
            return list(self._entries[mark:])

    def all(self) -> List[T]:
        with self._journal_lock:
            return list(self._entries)


class CoreCallRecorder(Journal[CoreCall]):
    def __init__(self, core_url: str):
        super().__init__()
        self._base_path = urlsplit(core_url).path.rstrip("/")

    def __call__(
        self,
        url: str,
        method: str,
        headers: Dict[str, Any],
        params: Optional[Dict[str, Any]],
        body: Optional[Dict[str, Any]],
        user_context: Optional[Dict[str, Any]],
    ) -> Tuple[str, str, Dict[str, Any], Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
        path = urlsplit(url).path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :] or "/"
        call = CoreCall(
            method=method,
            url=url,
            path=path,
            headers=dict(headers),
            params=dict(params) if params else params,
            body=dict(body) if body else body,
        )
        self._append(call)
        return url, method, headers, params, body


@dataclass
class LogLine:
    level: int
    logger: str
    text: str


class SdkLogCapture(logging.Handler, Journal[LogLine]):
    """Collects every record of the ``com.supertokens`` logger (DEBUG and up)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, level=logging.DEBUG)
        Journal.__init__(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is itself worth seeing
            text = f"{record.msg!r} % {record.args!r}"
        self._append(LogLine(record.levelno, record.name, text))

    @classmethod
    def install(cls) -> "SdkLogCapture":
        handler = cls()
        logger = logging.getLogger(SDK_LOGGER)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        return handler


def log_complaints(lines: Iterable[LogLine]) -> List[str]:
    """SDK log lines at WARNING or above, and any line that complains about the core."""
    out = []
    for line in lines:
        if line.level >= logging.WARNING or COMPLAINT_RE.search(line.text):
            out.append(f"{logging.getLevelName(line.level)} {line.logger}: {line.text}")
    return out


def warning_complaints(caught: Iterable[warnings.WarningMessage]) -> List[str]:
    """Warnings raised by the SDK (or PyJWT on the core's keys) that concern the core.

    Not every warning from ``supertokens_python`` is about the core (e.g. asyncio event-loop
    DeprecationWarnings from its sync wrappers); those are ignored here.
    """
    out = []
    for w in caught:
        message = str(w.message)
        category = w.category.__name__
        from_jwt = "/jwt/" in str(w.filename).replace("\\", "/")
        if COMPLAINT_RE.search(message) or COMPLAINT_RE.search(category) or (
            from_jwt and "key" in message.lower()
        ):
            out.append(f"{category} at {w.filename}:{w.lineno}: {message}")
    return out
