"""Authentication (bearer token or session cookie), CSRF, role checks and the failed-attempt rate limit.

Handlers never parse headers: the route registry (``api/routing.py``)
authenticates before the handler runs and the handler gets the
:class:`Principal` as ``call.principal`` (or ``principal(request)``).

Order of checks for a protected route:

1. the client address is over its failure budget → 429 with ``Retry-After``
   (checked first, so a blocked client cannot keep guessing);
2. an ``Authorization`` header: a token that is malformed, unknown or revoked,
   or a personal token whose user is disabled → 401, counted;
3. else a session cookie (``ttl_session``, ledger/sessions.py): unknown → 401,
   counted; ended or expired → 401, not counted (the page sends the person to
   sign in again);
4. neither → 401 (not counted as a failure);
5. a session on an unsafe method (POST, PUT, PATCH, DELETE) without the
   session's ``X-CSRF-Token``, or from a foreign ``Origin``/``Referer`` →
   403 ``csrf-check-failed`` (a bearer token is exempt: no browser sends it on
   its own);
6. a session whose user must change the password, or must enrol a second
   factor, reaches only the routes that do that → 403 ``password-change-required``
   or ``totp-enrolment-required``;
7. the principal's role is not among the route's roles → 403.

Database errors while checking a token are not failures: they surface as 503.
"""

from __future__ import annotations

import hmac
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterable

import structlog
from aiohttp import web

from api.problems import forbidden, request_key, too_many_requests, unauthenticated
from ledger.sessions import Session, SessionService
from ledger.tokens import Principal, Role, TokenService
from ledger.users import UserService

__all__ = [
    "AUTH_LIMITER",
    "PRINCIPAL_KEY",
    "SESSIONS",
    "SESSION_COOKIE",
    "SESSION_KEY",
    "TOKENS",
    "USERS",
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
USERS = web.AppKey("users", UserService)
SESSIONS = web.AppKey("sessions", SessionService)
PRINCIPAL_KEY = request_key("principal", Principal)
SESSION_KEY = request_key("session", Session)
SESSION_COOKIE = "ttl_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_ROUTES = frozenset({("GET", "/v1/session"), ("DELETE", "/v1/session")})
PASSWORD_ROUTES = SESSION_ROUTES | {("POST", "/v1/session/password")}
"""What a session whose user must change the password may call."""
ENROLMENT_ROUTES = PASSWORD_ROUTES | {("POST", "/v1/session/totp"), ("POST", "/v1/session/totp/confirmation")}
"""What a session whose user must enrol a second factor may call."""


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
    """Verify the request's bearer token or session cookie; store and return its principal."""
    limiter = request.app[AUTH_LIMITER]
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        raise too_many_requests(
            wait, f"too many failed authentications from this address; retry in {wait} s",
            detail_zh=f"此地址的身份认证失败次数过多，请 {wait} 秒后重试",
        )
    token = _bearer(request)
    if token is None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return await _authenticate_session(request, cookie, client)
        raise unauthenticated("send an API token as 'Authorization: Bearer ttl_…', or sign in at /sign-in",
                              detail_zh="请以 'Authorization: Bearer ttl_…' 发送 API 令牌，或在 /sign-in 登录",
                              error=None)
    found = await request.app[TOKENS].authenticate(token) if token else None
    if found is not None and found.user_id is not None:
        found = await _personal_token(request, found)
    if found is None:
        limiter.fail(client)
        structlog.get_logger(__name__).info("authentication_failed", client=client)
        raise unauthenticated("the token is malformed, unknown or revoked", detail_zh="令牌格式有误、不存在或已撤销")
    request[PRINCIPAL_KEY] = found
    structlog.contextvars.bind_contextvars(token_id=str(found.token_id), role=found.role.value)
    return found


async def _personal_token(request: web.Request, found: Principal) -> Principal | None:
    """A personal token speaks for its user while the user is active: checked on every request,
    so disabling the user (from any process) stops the token at once, cache or not."""
    users = request.app.get(USERS)
    if users is None:
        return found
    owner = await users.token_owner(found.token_id)
    if owner is None:
        request.app[TOKENS].forget(found.token_id)
        return None
    return Principal(found.token_id, owner.role, owner.institution_id, owner.name, user_id=owner.id, via="token")


async def _authenticate_session(request: web.Request, cookie: str, client: str) -> Principal:
    state, session = await request.app[SESSIONS].lookup(cookie)
    if session is None:
        if state == "unknown":
            request.app[AUTH_LIMITER].fail(client)
            structlog.get_logger(__name__).info("authentication_failed", client=client, via="session")
        raise unauthenticated(
            "the session has ended or expired; sign in again at /sign-in"
            if state != "unknown" else "unknown session; sign in at /sign-in",
            detail_zh="会话已结束或已过期，请在 /sign-in 重新登录" if state != "unknown"
            else "会话不存在，请在 /sign-in 登录", error=None)
    user = session.user
    found = Principal(session.id, user.role, user.institution_id, user.name, user_id=user.id, via="session")
    request[PRINCIPAL_KEY] = found
    request[SESSION_KEY] = session
    structlog.contextvars.bind_contextvars(user_id=str(user.id), role=user.role.value, via="session")
    if request.method in UNSAFE_METHODS:
        check_csrf(request, session)
    route = (request.method, _route_path(request))
    if user.must_change_password and route not in PASSWORD_ROUTES:
        raise forbidden("password-change-required",
                        "请先修改密码 / change your password first (POST /v1/session/password)")
    if user.must_enrol_totp and route not in ENROLMENT_ROUTES:
        raise forbidden("totp-enrolment-required",
                        "请先设置双重验证 / set up the second factor first (POST /v1/session/totp)")
    return found


def _route_path(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def host_of(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def request_host(request: web.Request) -> str:
    """The host the client addressed: ``Host``, or ``X-Forwarded-Host`` behind trusted proxies."""
    if request.app.get(FORWARDED_HOPS, 0):
        forwarded = request.headers.get("X-Forwarded-Host")
        if forwarded:
            return forwarded.split(",")[-1].strip().lower()
    return (request.host or "").lower()


def check_csrf(request: web.Request, session: Session) -> None:
    """403 ``csrf-check-failed`` unless the request carries the session's token and comes from this site."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf_token.encode()):
        raise forbidden("csrf-check-failed",
                        f"a write with a session cookie carries the session's {CSRF_HEADER} header "
                        "(GET /v1/session gives it)",
                        detail_zh=f"使用会话 Cookie 的写操作须带上会话的 {CSRF_HEADER} 请求头（由 GET /v1/session 提供）")
    origin = request.headers.get("Origin")
    source = origin if origin is not None else request.headers.get("Referer")
    if source is not None and host_of(source) != request_host(request):
        raise forbidden("csrf-check-failed", "this write comes from another site (Origin or Referer)",
                        detail_zh="此写操作来自其他站点（Origin 或 Referer），已拒绝")


def is_secure(request: web.Request) -> bool:
    """Whether the client reached us over TLS: directly, or as a trusted proxy says (X-Forwarded-Proto)."""
    if request.secure:
        return True
    if request.app.get(FORWARDED_HOPS, 0):
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[-1].strip().lower() == "https"
    return False


def set_session_cookie(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(SESSION_COOKIE, value, path="/", httponly=True, samesite="Lax",
                        secure=is_secure(request))


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=is_secure(request))


def session_of(request: web.Request) -> Session | None:
    found = request.get(SESSION_KEY)
    return found if isinstance(found, Session) else None


def authorize(who: Principal, roles: Collection[Role]) -> None:
    if who.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise forbidden(
            "role-not-allowed",
            f"role {who.role.value} may not use this route; allowed: {allowed}",
            detail_zh=f"角色 {who.role.value} 不能使用此接口；允许的角色：{allowed}",
            role=who.role.value,
        )


def principal(request: web.Request) -> Principal:
    """The authenticated principal of this request (protected routes only)."""
    found = request.get(PRINCIPAL_KEY)
    if not isinstance(found, Principal):
        raise unauthenticated("this route needs an API token", detail_zh="此接口需要 API 令牌", error=None)
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
        detail_zh=f"此令牌代表机构 {who.institution_id}，而不是 {institution_id}",
        role=who.role.value,
    )
