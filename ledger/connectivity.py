"""Telling a database outage from a bug.

A restart or crash of PostgreSQL surfaces as many different exceptions
depending on the moment it hits: the server refusing or closing
connections, a Unix socket that is gone (the embedded server listens on a
socket only, so "no such file" is how "down" looks there), a pool or
connection closed under a query, a connect that times out.
:func:`is_connection_failure` is the one place that decides which of them
mean "the database is unreachable, retry shortly"; the API answers those
with 503 and ``Retry-After`` (``api/problems.py``), and the projection
runner retries them instead of stopping a projection (``projections/runner.py``).

:func:`connect` is the pool's connect: it turns an ``OSError`` raised while
*connecting* into :class:`DatabaseUnavailable`, so a missing socket file is
not mistaken for a bug about a file elsewhere.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import asyncpg


class DatabaseUnavailable(ConnectionError):
    """A connection to the database could not be made (refused, socket missing, timed out)."""


_CLOSED_MARKERS = ("pool is closed", "pool is closing", "connection is closed", "connection was closed")

_BROKEN_PROTOCOL_MARKERS = (
    # An idle pooled connection that received the server's FATAL (57P01, ``pg_ctl stop -m fast``)
    # consumes it in state 2 until the socket's end arrives; a query in between gets this.
    "another operation (2) is in progress",
    'protocol is in the "failed" state',
    "not connected",
)

_NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EPIPE, errno.ENOTCONN,
})


def is_connection_failure(exc: BaseException) -> bool:
    """Connection-level failures: the database is down, unreachable or refusing connections.

    Kept narrow on purpose: an ``OSError`` about a file is a bug, not an outage
    (a connect that fails on a missing socket arrives as :class:`DatabaseUnavailable`).
    """
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError       # class 08: connection failures (incl. ConnectionDoesNotExist)
        | asyncpg.CannotConnectNowError       # 57P03: starting up / shutting down
        | asyncpg.AdminShutdownError          # 57P01: pg_ctl stop -m fast
        | asyncpg.CrashShutdownError          # 57P02: another backend crashed
        | asyncpg.TooManyConnectionsError     # 53300
        | ConnectionError                     # refused, reset, aborted, broken pipe, DatabaseUnavailable
        | socket.gaierror                     # host name does not resolve
        | asyncio.TimeoutError,               # pool.acquire / connect timeouts
    ):
        return True
    if isinstance(exc, OSError) and (exc.errno in _NETWORK_ERRNOS or (
        exc.errno is None and "connect" in str(exc).lower()  # asyncpg: "Multiple exceptions: ..."
    )):
        return True
    if isinstance(exc, asyncpg.InternalClientError):
        return any(m in str(exc) for m in _BROKEN_PROTOCOL_MARKERS)
    return isinstance(exc, asyncpg.InterfaceError) and any(m in str(exc) for m in _CLOSED_MARKERS)


async def connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """``asyncpg.connect``, with a failure to reach the server raised as :class:`DatabaseUnavailable`.

    The message names the kind of failure only, never the DSN (it may carry a password).
    """
    try:
        return await asyncpg.connect(*args, **kwargs)
    except OSError as exc:  # includes TimeoutError and a missing Unix socket (FileNotFoundError)
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to the database: {type(exc).__name__}: {reason}") from exc
