"""Which failures mean "the database is unreachable" (503, retry) and which are bugs (500)."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import asyncpg
import pytest

from ledger.connectivity import DatabaseUnavailable, connect, is_connection_failure


@pytest.mark.parametrize("exc", [
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)"),
    ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] Cannot assign"),
    TimeoutError(),
    DatabaseUnavailable("cannot connect to the database: FileNotFoundError: No such file or directory"),
])
def test_outages_are_connection_failures(exc: BaseException) -> None:
    assert is_connection_failure(exc)


@pytest.mark.parametrize("exc", [
    FileNotFoundError(errno.ENOENT, "No such file or directory", "/etc/ttledger.toml"),  # a bug about a file
    PermissionError(errno.EACCES, "Permission denied"),
    asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released back to the pool"),
    asyncpg.InternalClientError("cannot switch to state 15; another operation (15) is in progress"),
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.UndefinedTableError('relation "nope" does not exist'),
    ValueError("not a database problem"),
])
def test_bugs_are_not(exc: BaseException) -> None:
    assert not is_connection_failure(exc)


def test_a_missing_socket_is_database_unavailable_and_names_no_dsn(tmp_path: Path) -> None:
    # The embedded server listens on a Unix socket only: when it is down the socket file is gone,
    # and asyncpg says FileNotFoundError, which alone would read as a bug about a file.
    dsn = f"postgresql://ttledger:s3cret@/ttledger?host={tmp_path}"
    with pytest.raises(DatabaseUnavailable) as caught:
        asyncio.run(connect(dsn, timeout=5))
    assert is_connection_failure(caught.value)
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    assert "s3cret" not in str(caught.value) and str(tmp_path) not in str(caught.value)
