"""Start and stop sessiond processes on a free loopback port.

run.sh starts the shared instance itself (in bash, the same way); tests use this module for
extra instances with other flags (e.g. ``--access-token-ttl 2``).

sessiond is started with ``--listen 127.0.0.1:0``: the kernel picks a free port, and sessiond
logs a JSON line ``{"message": "sessiond listening", "addr": "127.0.0.1:<port>", ...}`` on stderr
once it accepts connections. There is therefore no window in which another process could take
the port between "find a free port" and "bind it".
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

READY_MESSAGE = "sessiond listening"
START_TIMEOUT_S = 30.0


def new_api_key() -> str:
    """A 64-character hex API key (sessiond wants 32+ characters)."""
    return secrets.token_hex(32)


@dataclass
class Sessiond:
    binary: str
    workdir: Path
    api_key: str
    extra_args: List[str] = field(default_factory=list)
    name: str = "sessiond"
    process: Optional[subprocess.Popen] = None
    addr: Optional[str] = None

    @property
    def url(self) -> str:
        assert self.addr is not None, "sessiond not started"
        return f"http://{self.addr}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def db_path(self) -> Path:
        return self.workdir / f"{self.name}.db"

    def command(self) -> List[str]:
        return [
            self.binary,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            f"sqlite://{self.db_path}",
            "--api-key",
            self.api_key,
            "--log-format",
            "json",
            *self.extra_args,
        ]

    def start(self) -> "Sessiond":
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            addr = self._find_ready_addr()
            if addr:
                self.addr = addr
                return self
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} before it was "
                    f"ready; log:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready after {START_TIMEOUT_S}s; log:\n{self.log_tail()}")

    def _find_ready_addr(self) -> Optional[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == READY_MESSAGE and entry.get("addr"):
                return str(entry["addr"])
        return None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> "Sessiond":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
