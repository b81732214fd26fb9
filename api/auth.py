"""Bearer-token authentication, role checks and the failed-attempt rate limit.

Handlers never parse headers: the route registry (``api/routing.py``)
authenticates before the handler runs and the handler gets the
:class:`Principal` as ``call.principal`` (or ``principal(request)``).

Order of checks for a protected route:

1. the client address is over its failure budget → 429 with ``Retry-After``
   (checked first, so a blocked client cannot keep guessing);
2. no ``Authorization: Bearer`` header → 401 (not counted as a failure);
3. a token that is malformed, unknown or revoked → 401, counted;
4. the token's role is not among the route's roles → 403.

Database errors while checking a token are not failures: they surface as 503.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterable

import structlog
from aiohttp import web

from api.problems import forbidden, request_key, too_many_requests, unauthenticated
from ledger.tokens import Principal, Role, TokenService

__all__ = [
    "AUTH_LIMITER",
    "PRINCIPAL_KEY",
    "TOKENS",
    "FailureLimiter",
    "Principal",
    "Role",
    "authenticate",
    "authorize",
    "client_address",
    "principal",
    "require_institution",
]

TOKENS = web.AppKey("tokens", TokenService)
PRINCIPAL_KEY = request_key("principal", Principal)


class FailureLimiter:
    """Counts failed authentications per client address in a sliding window.

    Memory is bounded: at most ``max_clients`` addresses are tracked, the
    least recently failing forgotten first.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or ``None`` if it may now."""
        now = self._clock()
        failures = self._recent(client, now)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[-self.limit] + self.window - now))

    def fail(self, client: str) -> None:
        now = self._clock()
        failures = self._recent(client, now)
        if failures is None:
            failures = self._failures[client] = deque(maxlen=self.limit)
        failures.append(now)
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)


AUTH_LIMITER = web.AppKey("auth_limiter", FailureLimiter)
FORWARDED_HOPS = web.AppKey("forwarded_hops", int)


def client_address(request: web.Request) -> str:
    """The client's address: the peer, or ``X-Forwarded-For`` behind trusted proxies."""
    hops = request.app.get(FORWARDED_HOPS, 0)
    if hops:
        chain = [p.strip() for p in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if p.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.remote or "unknown"


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return credentials.strip()


async def authenticate(request: web.Request) -> Principal:
    """Verify the request's bearer token; store and return its principal."""
    limiter = request.app[AUTH_LIMITER]
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        raise too_many_requests(
            wait, f"too many failed authentications from this address; retry in {wait} s"
        )
    token = _bearer(request)
    if token is None:
        raise unauthenticated("send an API token as 'Authorization: Bearer ttl_…'", error=None)
    found = await request.app[TOKENS].authenticate(token) if token else None
    if found is None:
        limiter.fail(client)
        structlog.get_logger(__name__).info("authentication_failed", client=client)
        raise unauthenticated("the token is malformed, unknown or revoked")
    request[PRINCIPAL_KEY] = found
    structlog.contextvars.bind_contextvars(token_id=str(found.token_id), role=found.role.value)
    return found


def authorize(who: Principal, roles: Collection[Role]) -> None:
    if who.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise forbidden(
            "role-not-allowed",
            f"role {who.role.value} may not use this route; allowed: {allowed}",
            role=who.role.value,
        )


def principal(request: web.Request) -> Principal:
    """The authenticated principal of this request (protected routes only)."""
    found = request.get(PRINCIPAL_KEY)
    if not isinstance(found, Principal):
        raise unauthenticated("this route needs an API token", error=None)
    return found


def require_institution(
    who: Principal, institution_id: uuid.UUID, *, also: Iterable[Role] = (Role.ADMIN,)
) -> None:
    """403 unless ``who`` acts for ``institution_id`` or holds one of the ``also`` roles.

    Use in handlers of routes open to scoped roles (operator, institution) so
    a token of one institution cannot touch another's records. The problem's
    type is ``institution-scope`` (not ``role-not-allowed``): the role may use
    the route, but not for that institution.
    """
    if who.role in set(also):
        return
    if who.institution_id is not None and who.institution_id == institution_id:
        return
    raise forbidden(
        "institution-scope",
        f"this token acts for institution {who.institution_id}, not {institution_id}",
        role=who.role.value,
    )
