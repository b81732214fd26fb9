"""The ``ttledger`` command as a user runs it: a subprocess on the embedded database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import pytest


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def own_data_dir(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TTLEDGER_DATA_DIR"] = str(tmp_path / "data")
    env["TTLEDGER_LOG_FORMAT"] = "json"
    return env


def test_migrate_twice_on_embedded_server_is_idempotent(own_data_dir: dict[str, str]) -> None:
    first = run(["migrate"], own_data_dir)
    assert first.returncode == 0, first.stderr
    assert "log head at position 0" in first.stdout
    assert '"event": "migration_applied"' in first.stderr
    second = run(["migrate"], own_data_dir)
    assert second.returncode == 0, second.stderr
    assert "migration_applied" not in second.stderr
    # The server stopped with the last process: no postmaster left on the data dir.
    assert not (Path(own_data_dir["TTLEDGER_DATA_DIR"]) / "pgdata" / "postmaster.pid").exists()


def test_verify_passes_on_an_empty_log_and_uses_database_url(migrated_dsn: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": migrated_dsn, "TTLEDGER_DATA_DIR": str(tmp_path / "unused")}
    result = run(["verify"], env)
    assert result.returncode == 0, result.stderr
    assert "chain OK, 0 events" in result.stdout
    assert "books OK" in result.stdout
    assert not (tmp_path / "unused").exists()  # no embedded server was started
    assert migrated_dsn not in result.stderr  # the DSN is never logged


async def test_verify_exits_nonzero_on_tampering(migrated_dsn: str, tmp_path: Path) -> None:
    from tests.integration.test_verify import fill

    await fill(migrated_dsn, counters=2, increments=1)
    conn = await asyncpg.connect(migrated_dsn)
    await conn.execute("UPDATE events SET topic = topic || 'x' WHERE position = 2")
    await conn.close()
    env = {**os.environ, "DATABASE_URL": migrated_dsn}
    result = run(["verify"], env)
    assert result.returncode == 1
    assert "altered at position 2" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, deadline: float) -> dict[str, object]:
    import json

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return dict(json.loads(response.read()))
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


def test_serve_demo_starts_reports_ready_and_stops_cleanly_on_sigterm(own_data_dir: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "serve", "--demo", "--port", str(port)],
        env=own_data_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = _wait_ready(f"http://127.0.0.1:{port}/readyz", time.monotonic() + 120)
        assert ready["status"] == "ready"
        assert int(ready["log_head"]) > 200  # the demo dataset was loaded first
        # A second process on the same data directory shares the running server.
        second = run(["migrate"], own_data_dir)
        assert second.returncode == 0, second.stderr
        assert _wait_ready(f"http://127.0.0.1:{port}/readyz", time.monotonic() + 5)["status"] == "ready"
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "embedded_postgres_released" in err
    assert not (Path(own_data_dir["TTLEDGER_DATA_DIR"]) / "pgdata" / "postmaster.pid").exists()


def test_user_commands_create_the_first_admin_and_administer(migrated_dsn: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": migrated_dsn, "TTLEDGER_DATA_DIR": str(tmp_path / "unused"),
           "TTLEDGER_LOG_FORMAT": "json"}
    created = run(["user", "create", "chen", "--role", "admin", "--name", "陈管理员"], env)
    assert created.returncode == 0, created.stderr
    temporary = created.stdout.strip()
    assert len(temporary) == 16 and "\n" not in temporary  # alone on stdout, for scripts
    assert "created user chen" in created.stderr and "second factor" in created.stderr
    assert temporary not in created.stderr
    again = run(["user", "create", "CHEN", "--role", "regulator"], env)
    assert again.returncode == 2 and "taken" in again.stderr
    scoped = run(["user", "create", "li", "--role", "institution"], env)
    assert scoped.returncode == 2 and "--institution ID is required" in scoped.stderr
    weak = subprocess.run([sys.executable, "-m", "ledger.cli", "user", "create", "wang", "--role", "regulator",
                           "--password-stdin"], env=env, input="short\n", capture_output=True, text=True,
                          timeout=120)
    assert weak.returncode == 2 and "password.min_length" in weak.stderr
    assert run(["user", "disable", "chen"], env).returncode == 0
    listed = run(["user", "list"], env)
    assert "chen" in listed.stdout and "disabled" in listed.stdout and temporary not in listed.stdout
    assert run(["user", "enable", "chen"], env).returncode == 0
    reset = run(["user", "reset", "chen"], env)
    assert reset.returncode == 0 and len(reset.stdout.strip()) == 16
    required = run(["user", "require-totp", "--role", "regulator"], env)
    assert required.returncode == 0 and "admin, regulator" in required.stdout
    events = run(["security-events", "--user", "chen"], env)
    assert events.returncode == 0
    assert [line.split()[3] for line in events.stdout.splitlines()][:4] == [
        "password_reset", "user_enabled", "user_disabled", "user_created"]
    for output in (events.stdout, events.stderr, listed.stderr, reset.stderr):
        assert temporary not in output and reset.stdout.strip() not in output
