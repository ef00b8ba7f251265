"""A second app in its own process, for tests that need two SDK configurations at once.

supertokens-python's configuration is process-global, so an app with another ``connection_uri``
(e.g. ``…/appid-b`` next to the test process's ``…/appid-a``) runs in a child process:
``python -m e2e_support.peer``. The child initialises the SDK with ``start_sdk`` (the same app as
every profile) and serves it on a free loopback port through a small stdlib HTTP server that
hands each request to the app (Starlette's TestClient, no cookie jar kept between requests).
``GET /__peer/report`` is answered by that server itself: the core calls the child's SDK made
and its complaints about the core. Closing the child's stdin stops it.

    peer = start_peer_app(core.url + "/appid-b", core.api_key)
    peer.url                  # http://127.0.0.1:<port>
    peer.report()             # {"calls": ["POST /recipe/session/verify", …], "complaints": […], …}
    peer.close()
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict

import httpx

CONFIG_ENV = "E2E_PEER_CONFIG"
REPORT_PATH = "/__peer/report"
START_TIMEOUT_S = 30.0
# Hop-by-hop or recomputed headers the bridge does not copy.
_SKIP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


@dataclass
class PeerApp:
    url: str
    process: subprocess.Popen

    def report(self) -> Dict[str, Any]:
        r = httpx.get(self.url + REPORT_PATH, timeout=10)
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_peer_app(connection_uri: str, api_key: str, **session_options: Any) -> PeerApp:
    """Start the child process and wait for the URL it serves on."""
    env = {
        **os.environ,
        CONFIG_ENV: json.dumps(
            {"connection_uri": connection_uri, "api_key": api_key, "session": session_options}
        ),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "e2e_support.peer"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    # One JSON line {"url": …} once it listens; a thread reads it so a hung child cannot block us.
    first: Dict[str, str] = {}
    reader = threading.Thread(target=lambda: first.update(json.loads(process.stdout.readline() or "{}")))
    reader.start()
    reader.join(START_TIMEOUT_S)
    if "url" not in first:
        process.kill()
        process.wait()
        raise RuntimeError(f"the peer app did not start within {START_TIMEOUT_S}s (exit {process.returncode})")
    return PeerApp(first["url"], process)


# ---- child side ------------------------------------------------------------------------------


def _serve() -> None:
    from fastapi.testclient import TestClient
    from supertokens_python.querier import Querier

    from .app import API_DOMAIN
    from .harness import start_sdk
    from .observe import log_complaints, warning_complaints

    config = json.loads(os.environ[CONFIG_ENV])
    sdk = start_sdk(config["connection_uri"], config["api_key"], **config["session"])
    client = TestClient(sdk.app, base_url=API_DOMAIN, raise_server_exceptions=False)
    lock = threading.Lock()

    class Bridge(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, headers: Any, body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in _SKIP_HEADERS:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            if self.path == REPORT_PATH:
                report = {
                    "calls": [repr(c) for c in sdk.recorder.all()],
                    "api_version": Querier.api_version,
                    "sdk_log_lines": len(sdk.logs.since(0)),
                    "complaints": log_complaints(sdk.logs.since(0))
                    + warning_complaints(sdk.init_warnings),
                }
                self._send(200, [("content-type", "application/json")], json.dumps(report).encode())
                return
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _SKIP_HEADERS]
            with lock:
                client.cookies.clear()  # every request carries exactly the cookies it was sent
                r = client.request(self.command, self.path, headers=headers, content=body)
                client.cookies.clear()
            self._send(r.status_code, r.headers.multi_items(), r.content)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
            pass

    # A thread per connection: clients keep connections alive (the app itself runs one request
    # at a time, under the lock).
    server = ThreadingHTTPServer(("127.0.0.1", 0), Bridge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    print(json.dumps({"url": f"http://{host}:{port}"}), flush=True)
    sys.stdout = sys.stderr  # nobody reads our stdout after that line
    sys.stdin.read()  # until the parent closes our stdin
    server.shutdown()
    client.close()


if __name__ == "__main__":
    _serve()
