"""People: signing in and out, passwords, the second factor, personal tokens, user administration,
and the security audit trail (docs/api.md, "Authentication").

The routes a signed-in person uses on their own account (password change, TOTP
enrolment, personal tokens) are declared ``account=True``: open to every role,
the read-only regulator too (they write to the caller's account, never to the
ledger), authenticated by the registry like every route, so a session's writes
still need the CSRF header and the gates (password change, second factor) still
apply. Signing in and out are public: sign-out with nothing to end is a 204.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.auth import (
    AUTH_LIMITER,
    SESSIONS,
    TOKENS,
    USERS,
    authenticate,
    clear_session_cookie,
    client_address,
    host_of,
    request_host,
    session_of,
    set_session_cookie,
)
from api.problems import HTTPProblem, forbidden, split_bilingual, too_many_requests, unprocessable
from api.routing import ANY_ROLE, PUBLIC, Call, Reply, RouteRegistry
from domain.inputs import Label, Name
from ledger.passwords import Password, PasswordRejected, TotpCode, Username
from ledger.security_events import SecurityEventKind, list_events, record
from ledger.sessions import Session
from ledger.tokens import Principal, Role
from ledger.users import User, UserError

routes = RouteRegistry()
TAGS = ("session",)
ADMIN_TAGS = ("admin",)

# ---- models -----------------------------------------------------------------------------------


class UserView(BaseModel):
    id: UUID
    username: str
    display_name: str
    role: Role
    scope_kind: Literal["all", "institution"]
    institution_id: UUID | None
    active: bool
    must_change_password: bool
    totp_enabled: bool
    totp_required: bool = Field(description="Administrators always; other roles when an administrator says so.")
    locked_until: datetime | None
    disabled_at: datetime | None
    created_at: datetime
    password_changed_at: datetime | None


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id, username=user.username, display_name=user.display_name, role=user.role,
        scope_kind=user.scope_kind,  # type: ignore[arg-type]
        institution_id=user.institution_id, active=user.active, must_change_password=user.must_change_password,
        totp_enabled=user.totp_enabled, totp_required=user.totp_required, locked_until=user.locked_until,
        disabled_at=user.disabled_at, created_at=user.created_at, password_changed_at=user.password_changed_at,
    )


class SessionView(BaseModel):
    via: Literal["session", "token"]
    role: Role
    institution_id: UUID | None
    name: str = Field(description="The display name (for a machine token, the token's name).")
    user: UserView | None = Field(description="The signed-in person; none for a machine token.")
    csrf_token: str | None = Field(
        default=None, description="Send it as `X-CSRF-Token` on every write made with the session cookie.")
    next_step: Literal["none", "change_password", "enrol_totp"] = Field(
        default="none", description="What the person must do before anything else.")
    expires_at: datetime | None = Field(default=None, description="When the session ends however active.")
    idle_timeout_seconds: int | None = None


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    totp_code: TotpCode | None = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class TotpEnrolment(BaseModel):
    secret: str = Field(description="Base32; type it into the authenticator app, or use the URI.")
    otpauth_uri: str


class TotpConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: TotpCode


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: Name = ""
    role: Role
    institution_id: UUID | None = Field(default=None, description="Required for operator and institution.")
    password: Password | None = Field(
        default=None, description="A temporary password; one is made (and answered once) if absent.")


class CreatedUser(BaseModel):
    user: UserView
    temporary_password: str | None = Field(
        description="Shown this once when the server made it; the user must change it at the first sign-in.")


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password | None = Field(default=None, description="The temporary password; one is made if absent.")


class ResetDone(BaseModel):
    user: UserView
    temporary_password: str | None


class UserPath(BaseModel):
    user_id: UUID


class TokenPath(BaseModel):
    token_id: UUID


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Label = Field(description="What the token is for (a script's name).")


class CreatedToken(BaseModel):
    id: UUID
    token: str = Field(description="Shown this once; stored only as a hash.")
    name: str
    role: Role
    institution_id: UUID | None
    prefix: str
    created_at: datetime


class UserList(BaseModel):
    items: list[UserView]


class SecurityEventQuery(BaseModel):
    user: UUID | None = Field(default=None, description="The user concerned or acting.")
    kind: SecurityEventKind | None = None
    from_: datetime | None = Field(default=None, alias="from", description="At or after (ISO 8601, with offset).")
    to: datetime | None = Field(default=None, description="Before (ISO 8601, with offset).")
    before: int | None = Field(default=None, ge=1, description="Continue a page: events with a lower id.")
    limit: int = Field(default=100, ge=1, le=500)


class SecurityEventRow(BaseModel):
    id: int
    at: datetime
    kind: str
    user_id: UUID | None
    actor_user_id: UUID | None
    address: str
    detail: dict[str, Any]


class SecurityEventPage(BaseModel):
    items: list[SecurityEventRow]
    next_before: int | None = Field(description="Pass as `before` for the next page; none at the end.")


# ---- helpers ----------------------------------------------------------------------------------


def _problem(exc: UserError | PasswordRejected) -> HTTPProblem:
    """The problem of a refused account change; its detail in the request's language (``detail_zh``)."""
    if isinstance(exc, PasswordRejected):
        detail, detail_zh = split_bilingual(exc.detail)  # "中文 / English", as ledger/passwords.py words it
        return unprocessable([{"field": exc.field, "rule": exc.rule, "detail": detail, "in": "body",
                               "detail_zh": detail_zh}], detail, detail_zh=detail_zh)
    if exc.field:
        errors = [{"field": exc.field, "rule": exc.kind if "." in exc.kind else f"validation.{exc.kind}",
                   "detail": exc.detail, "in": "body", "detail_zh": exc.detail_zh}]
        if exc.status == 422:
            return unprocessable(errors, exc.detail, detail_zh=exc.detail_zh)
        return HTTPProblem(exc.status, exc.kind, "Refused", exc.detail, detail_zh=exc.detail_zh, errors=errors)
    return HTTPProblem(exc.status, exc.kind, "Refused", exc.detail, detail_zh=exc.detail_zh)


def _next_step(user: User) -> Literal["none", "change_password", "enrol_totp"]:
    if user.must_change_password:
        return "change_password"
    return "enrol_totp" if user.must_enrol_totp else "none"


def _session_view(call_app: web.Application, session: Session, csrf: str | None = None) -> SessionView:
    sessions = call_app[SESSIONS]
    user = session.user
    return SessionView(
        via="session", role=user.role, institution_id=user.institution_id, name=user.name, user=user_view(user),
        csrf_token=csrf or session.csrf_token, next_step=_next_step(user),
        expires_at=session.created_at + sessions.absolute,
        idle_timeout_seconds=int(sessions.idle.total_seconds()),
    )


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json(), status=status, content_type="application/json")


def _needs_user(who: Principal) -> UUID:
    if who.user_id is None:
        raise HTTPProblem(409, "not-a-user", "Refused",
                          "this needs a signed-in person (or a person's token), not a machine token",
                          detail_zh="此操作须由已登录的个人（或个人令牌）进行，不能使用机器令牌")
    return who.user_id


def _needs_session(request: web.Request, who: Principal) -> Session:
    session = session_of(request)
    if session is None:
        raise HTTPProblem(409, "session-required", "Refused",
                          "this is done in a browser session (sign in at /sign-in), not with a token",
                          detail_zh="此操作须在浏览器会话中进行（在 /sign-in 登录），不能使用令牌")
    return session


# ---- the session ------------------------------------------------------------------------------


@routes.post("/v1/session", roles=PUBLIC, body=SignIn, response=SessionView, status=201, tags=TAGS)
async def sign_in(call: Call[SignIn, None]) -> web.StreamResponse:
    """Sign in: answers the session and sets the `ttl_session` cookie (HttpOnly, SameSite=Lax).

    One error for an unknown username, a wrong password and a disabled user (401
    `sign-in-failed`); `totp-required` when the password was right and a code is
    needed; `totp-invalid` for a wrong or reused code; 403 `account-locked` (with
    `locked_until`) after 5 failures in a row, for 15 minutes. Failures also count
    against the address (429).
    """
    request = call.request
    limiter = request.app[AUTH_LIMITER]
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        raise too_many_requests(wait, f"too many failed attempts from this address; retry in {wait} s",
                                detail_zh=f"此地址的失败尝试次数过多，请 {wait} 秒后重试")
    origin = request.headers.get("Origin")
    if origin is not None and host_of(origin) != request_host(request):
        raise forbidden("csrf-check-failed", "a sign-in from another site is refused (Origin)",
                        detail_zh="拒绝来自其他站点的登录（Origin）")
    from ledger.users import SignInRefused

    body = call.body
    try:
        user = await request.app[USERS].sign_in(body.username, body.password, body.totp_code, address=client)
    except SignInRefused as refused:
        if refused.reason != "totp_required":
            limiter.fail(client)
        if refused.reason == "locked":
            until = refused.locked_until
            shown = f"{until:%Y-%m-%d %H:%M:%S} UTC" if until else "later"
            raise HTTPProblem(
                403, "account-locked", "Account locked",
                f"连续登录失败次数过多，账户已锁定至 {shown} / too many failed sign-ins: the account is locked "
                f"until {shown}", locked_until=until.isoformat() if until else None) from None
        if refused.reason == "totp_required":
            raise HTTPProblem(401, "totp-required", "Second factor required",
                              "请输入验证器中的 6 位验证码 / enter the 6-digit code of your authenticator app",
                              errors=[{"field": "totp_code", "rule": "totp.required", "in": "body",
                                       "detail": "this account signs in with a TOTP code"}]) from None
        if refused.reason == "totp_invalid":
            raise HTTPProblem(401, "totp-invalid", "Wrong code",
                              "验证码不正确或已用过 / the code is wrong or was already used",
                              errors=[{"field": "totp_code", "rule": "totp.code_matches", "in": "body",
                                       "detail": "wrong, expired or already used"}]) from None
        raise HTTPProblem(401, "sign-in-failed", "Sign-in failed",
                          "用户名或密码不正确 / wrong username or password") from None
    value, session = await request.app[SESSIONS].start(
        user, address=client, user_agent=request.headers.get("User-Agent", ""),
        replacing=request.cookies.get("ttl_session"))
    response = _json(_session_view(request.app, session), 201)
    set_session_cookie(response, request, value)
    return response


@routes.get("/v1/session", roles=ANY_ROLE, response=SessionView, tags=TAGS)
async def get_session(call: Call[None, None]) -> SessionView:
    """Who is signed in, what they must do first, and the CSRF token (for a token: who it speaks for)."""
    session = session_of(call.request)
    if session is not None:
        return _session_view(call.app, session)
    who = call.principal
    user = await call.app[USERS].get(who.user_id) if who.user_id else None
    return SessionView(via="token", role=who.role, institution_id=who.institution_id, name=who.name,
                       user=user_view(user) if user else None)


@routes.delete("/v1/session", roles=PUBLIC, tags=TAGS)
async def sign_out(call: Call[None, None]) -> web.StreamResponse:
    """Sign out: the session ends on the server and the cookie is cleared (needs `X-CSRF-Token`).

    Without an open session (ended, expired, or a token) there is nothing to end: 204 as well.
    """
    request = call.request
    if request.cookies.get("ttl_session") and "Authorization" not in request.headers:
        try:
            who = await authenticate(request)
        except HTTPProblem as problem:
            if problem.status != 401:
                raise
        else:
            session = session_of(request)
            if session is not None and await request.app[SESSIONS].end(session.id, "signed_out"):
                await record(request.app[SESSIONS].db, SecurityEventKind.SIGN_OUT, request.app[SESSIONS].clock(),
                             user_id=who.user_id, address=client_address(request))
    response = web.Response(status=204)
    clear_session_cookie(response, request)
    return response


@routes.post("/v1/session/password", roles=ANY_ROLE, account=True, body=PasswordChange, response=SessionView, tags=TAGS)
async def change_password(call: Call[PasswordChange, None]) -> web.StreamResponse:
    """Change your own password (in a session): the other sessions end and this one gets a new id."""
    request = call.request
    who = call.principal  # authenticated by the registry (api/auth.py: CSRF and gates included)
    session = _needs_session(request, who)
    try:
        user = await request.app[USERS].change_password(
            session.user.id, call.body.current_password, call.body.new_password, address=client_address(request))
    except (UserError, PasswordRejected) as exc:
        raise _problem(exc) from None
    sessions = request.app[SESSIONS]
    await sessions.end_all(user.id, "password_changed", keep=session.id)
    value, csrf = await sessions.rotate(session.id)
    fresh = Session(session.id, user, csrf, session.created_at, session.last_seen_at)
    response = _json(_session_view(request.app, fresh, csrf))
    set_session_cookie(response, request, value)
    return response


@routes.post("/v1/session/totp", roles=ANY_ROLE, account=True, response=TotpEnrolment, status=201, tags=TAGS)
async def begin_totp(call: Call[None, None]) -> Reply[TotpEnrolment]:
    """Start enrolling a second factor: a new secret and its otpauth:// URI, pending until confirmed."""
    who = call.principal  # authenticated by the registry (api/auth.py: CSRF and gates included)
    session = _needs_session(call.request, who)
    try:
        secret, uri = await call.app[USERS].begin_totp(session.user.id)
    except UserError as exc:
        raise _problem(exc) from None
    return Reply(TotpEnrolment(secret=secret, otpauth_uri=uri), status=201)


@routes.post("/v1/session/totp/confirmation", roles=ANY_ROLE, account=True, body=TotpConfirmation, response=SessionView,
             tags=TAGS)
async def confirm_totp(call: Call[TotpConfirmation, None]) -> SessionView:
    """Confirm the enrolment with a code from the app: from the next sign-in on, the code is asked for."""
    who = call.principal  # authenticated by the registry (api/auth.py: CSRF and gates included)
    session = _needs_session(call.request, who)
    try:
        user = await call.app[USERS].confirm_totp(session.user.id, call.body.code,
                                                  address=client_address(call.request))
    except UserError as exc:
        raise _problem(exc) from None
    return _session_view(call.app, Session(session.id, user, session.csrf_token, session.created_at,
                                           session.last_seen_at))


# ---- personal tokens --------------------------------------------------------------------------


@routes.post("/v1/tokens", roles=ANY_ROLE, account=True, body=NewToken, response=CreatedToken, status=201, tags=TAGS)
async def create_personal_token(call: Call[NewToken, None]) -> Reply[CreatedToken]:
    """A personal API token (in a session): it carries your role and institution, and ends when
    you revoke it or your account is disabled. The token is answered once."""
    request = call.request
    who = call.principal  # authenticated by the registry (api/auth.py: CSRF and gates included)
    session = _needs_session(request, who)
    user = session.user
    made, plaintext = await request.app[TOKENS].create(
        user.role, institution_id=user.institution_id, name=call.body.name, user_id=user.id)
    await record(request.app[SESSIONS].db, SecurityEventKind.TOKEN_CREATED, request.app[SESSIONS].clock(),
                 user_id=user.id, actor_user_id=user.id, address=client_address(request), token_id=str(made.id))
    return Reply(CreatedToken(id=made.id, token=plaintext, name=made.name, role=made.role,
                              institution_id=made.institution_id, prefix=made.prefix, created_at=made.created_at),
                 status=201)


class Revocation(BaseModel):
    id: UUID
    revoked: bool = Field(description="`true` when this request revoked it; `false` when it was already revoked.")


@routes.post("/v1/tokens/{token_id}/revocation", roles=ANY_ROLE, account=True, path_params=TokenPath,
             response=Revocation, tags=TAGS)
async def revoke_token(call: Call[None, None]) -> Revocation:
    """Revoke a token: your own personal token, or (administrators) any token. 404 for another's.

    Revoking a revoked token changes nothing (`revoked: false`).
    """
    request = call.request
    who = call.principal  # authenticated by the registry (api/auth.py: CSRF and gates included)
    token_id: UUID = call.path.token_id
    db = request.app[SESSIONS].db
    owner = await db.fetchrow("SELECT user_id FROM api_tokens WHERE id = $1", token_id)
    if owner is None or (who.role is not Role.ADMIN and (who.user_id is None or owner["user_id"] != who.user_id)):
        raise HTTPProblem(404, "not-found", "Not found", f"no token {token_id} of yours",
                          detail_zh=f"没有您的令牌 {token_id}")
    revoked = await request.app[TOKENS].revoke(token_id)
    if revoked:
        await record(db, SecurityEventKind.TOKEN_REVOKED, request.app[SESSIONS].clock(),
                     user_id=owner["user_id"], actor_user_id=who.user_id, address=client_address(request),
                     token_id=str(token_id))
    return Revocation(id=token_id, revoked=revoked)


# ---- user administration ----------------------------------------------------------------------


@routes.get("/v1/users", roles={Role.ADMIN}, response=UserList, tags=ADMIN_TAGS)
async def list_users(call: Call[None, None]) -> UserList:
    """Every user (never a password hash or TOTP secret)."""
    return UserList(items=[user_view(u) for u in await call.app[USERS].list_users()])


@routes.post("/v1/users", roles={Role.ADMIN}, body=NewUser, response=CreatedUser, status=201, tags=ADMIN_TAGS)
async def create_user(call: Call[NewUser, None]) -> Reply[CreatedUser]:
    """Create a user; the answer holds the temporary password once (to be changed at first sign-in)."""
    body = call.body
    try:
        user, made = await call.app[USERS].create(
            body.username, body.role, institution_id=body.institution_id, display_name=body.display_name,
            password=body.password, actor_user_id=call.principal.user_id, address=client_address(call.request))
    except (UserError, PasswordRejected) as exc:
        raise _problem(exc) from None
    return Reply(CreatedUser(user=user_view(user), temporary_password=made), status=201,
                 headers={"Location": f"/v1/users/{user.id}"})


@routes.post("/v1/users/{user_id}/disable", roles={Role.ADMIN}, path_params=UserPath, response=UserView,
             tags=ADMIN_TAGS)
async def disable_user(call: Call[None, None]) -> UserView:
    """Disable a user: their sessions end and their personal tokens are revoked, at once."""
    try:
        user, revoked = await call.app[USERS].disable(call.path.user_id, actor_user_id=call.principal.user_id,
                                                      address=client_address(call.request))
    except UserError as exc:
        raise _problem(exc) from None
    for token_id in revoked:
        call.app[TOKENS].forget(token_id)
    return user_view(user)


@routes.post("/v1/users/{user_id}/enable", roles={Role.ADMIN}, path_params=UserPath, response=UserView,
             tags=ADMIN_TAGS)
async def enable_user(call: Call[None, None]) -> UserView:
    """Enable a disabled user again (and lift a lock); revoked tokens stay revoked."""
    try:
        user = await call.app[USERS].enable(call.path.user_id, actor_user_id=call.principal.user_id,
                                            address=client_address(call.request))
    except UserError as exc:
        raise _problem(exc) from None
    return user_view(user)


@routes.post("/v1/users/{user_id}/password-reset", roles={Role.ADMIN}, path_params=UserPath, body=PasswordReset,
             response=ResetDone, tags=ADMIN_TAGS)
async def reset_password(call: Call[PasswordReset, None]) -> ResetDone:
    """Set a temporary password (answered once if made here); the user changes it at the next sign-in.
    Their sessions end; the account is unlocked."""
    users = call.app[USERS]
    try:
        made = await users.reset_password(call.path.user_id, password=call.body.password,
                                          actor_user_id=call.principal.user_id, address=client_address(call.request))
        user = await users.require(call.path.user_id)
    except (UserError, PasswordRejected) as exc:
        raise _problem(exc) from None
    return ResetDone(user=user_view(user), temporary_password=made)


@routes.get("/v1/security-events", roles={Role.ADMIN}, query=SecurityEventQuery, response=SecurityEventPage,
            tags=ADMIN_TAGS)
async def security_events(call: Call[None, SecurityEventQuery]) -> SecurityEventPage:
    """The security audit trail, newest first: sign-ins, failures, lockouts, password, token and user changes."""
    q = call.query
    rows = await list_events(call.app[SESSIONS].db, user_id=q.user, kind=q.kind.value if q.kind else None,
                             since=q.from_, until=q.to, before_id=q.before, limit=q.limit + 1)
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return SecurityEventPage(
        items=[SecurityEventRow(id=r.id, at=r.at, kind=r.kind, user_id=r.user_id, actor_user_id=r.actor_user_id,
                                address=r.address, detail=r.detail) for r in rows],
        next_before=rows[-1].id if more and rows else None)


SELF_AUTHENTICATING = {
    ("post", "/v1/session"): (401, 403, 429),
    ("delete", "/v1/session"): (401, 403, 429),
    ("post", "/v1/session/password"): (401, 403, 409, 429),
    ("post", "/v1/session/totp"): (401, 403, 409, 429),
    ("post", "/v1/session/totp/confirmation"): (401, 403, 409, 429),
    ("post", "/v1/tokens"): (401, 403, 409, 429),
    ("post", "/v1/tokens/{token_id}/revocation"): (401, 403, 404, 429),
}
"""The session and account routes, with the error statuses the registry does not know of (a sign-in's
refusals, 409 ``session-required`` for a token); ``document_statuses`` adds them to the OpenAPI document."""


def document_statuses(doc: dict[str, Any]) -> dict[str, Any]:
    """State in the OpenAPI document that these routes answer 401/403/429 and take a token or the cookie."""
    for (method, path), codes in SELF_AUTHENTICATING.items():
        op = doc.get("paths", {}).get(path, {}).get(method)
        if op is None:
            continue
        for code in codes:
            op["responses"].setdefault(str(code), {"$ref": f"#/components/responses/Problem{code}"})
        if path != "/v1/session" or method != "post":
            op["security"] = [{"bearer": []}, {"session": []}]
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["session"] = {
        "type": "apiKey", "in": "cookie", "name": "ttl_session",
        "description": "The browser session of `POST /v1/session`; writes also carry `X-CSRF-Token`.",
    }
    return doc


__all__ = ["SELF_AUTHENTICATING", "document_statuses", "routes"]
