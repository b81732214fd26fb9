"""``ttledger serve`` as a user runs it: a subprocess on a test database, its log captured in a file.

Used by the tests that need a real server process (schemathesis drives it with
a blocking HTTP client; the log tests read everything the process printed).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_events(self) -> list[dict[str, object]]:
        """The JSON log lines (structlog) the process wrote so far."""
        out = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    out.append(doc)
        return out


def wait_ready(base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base_url}/readyz never answered:\n{log_path.read_text()[-4000:]}")


@contextlib.contextmanager
def live_server(dsn: str, log_path: Path, **env: str) -> Iterator[LiveServer]:
    """Run ``ttledger serve`` with ``DATABASE_URL=dsn`` (and ``env``) until the block ends (SIGTERM)."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": dsn, "TTLEDGER_LOG_FORMAT": "json", **env}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment, stdout=log_file, stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base_url, process, log_path)
            yield LiveServer(base_url, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
