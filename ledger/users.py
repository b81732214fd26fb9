"""User accounts: creation, passwords, sign-in with lockout, the TOTP second factor.

A user is a person who signs in (``users``): a username unique whatever its
case, a display name, a role of :class:`ledger.tokens.Role` and what the user
acts for (``scope_kind``: ``all``, or ``institution`` with ``institution_id``;
operators and institutions must name one, as their tokens must).

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``), off the
event loop on the same two threads as token checks. A new user, and a user
whose password an administrator reset, must change the password at the next
sign-in (``must_change_password``). What a password must be is
``ledger/passwords.py``.

Sign-in (:meth:`UserService.sign_in`) refuses, with one error for an unknown
username, a wrong password and a disabled user (an unknown username still pays
one argon2 verification, so timing does not tell them apart). After
``lockout_threshold`` (5) failures in a row, wrong TOTP codes included, the
account is locked for ``lockout_seconds`` (15 minutes): a locked account is
refused even with the right password, and the refusal says until when.

The second factor is RFC 6238 TOTP (pyotp): 6 digits, 30-second steps, the
step before and after accepted; a code is never accepted twice (the last step
used is stored and only later steps pass). Administrators must always use it;
other roles when ``ttledger user require-totp --role R`` says so.

Every change is written to the security audit trail (``ledger/security_events.py``).
Time comes from ``clock`` so tests can move it.
"""

from __future__ import annotations

import hmac
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import asyncpg
import pyotp
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag

from ledger.passwords import PasswordRejected, check_strength, temporary_password
from ledger.sealed import seal, seal_key, unseal
from ledger.security_events import SecurityEventKind as K
from ledger.security_events import record
from ledger.tokens import SCOPED_ROLES, Role, _off_loop

Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
Clock = Callable[[], datetime]

TOTP_ISSUER = "ttledger"
TOTP_STEP = 30
USERNAME_MAX = 64
DISPLAY_NAME_MAX = 200


def utc_now() -> datetime:
    return datetime.now(UTC)


log = structlog.get_logger(__name__)

class UserError(ValueError):
    """A user cannot be created or changed as asked; ``kind`` is the problem type, ``field`` the input."""

    def __init__(self, kind: str, detail: str, *, field: str = "", status: int = 422,
                 detail_zh: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.detail_zh = detail_zh
        """The detail in Chinese (the API answers it when Chinese is chosen)."""
        self.field = field
        self.status = status


class SignInRefused(Exception):
    """Sign-in refused; ``reason`` is ``credentials``, ``locked``, ``totp_required`` or ``totp_invalid``."""

    def __init__(self, reason: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.locked_until = locked_until


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    scope_kind: str
    institution_id: uuid.UUID | None
    must_change_password: bool
    totp_enabled: bool
    failed_sign_ins: int
    locked_until: datetime | None
    disabled_at: datetime | None
    created_at: datetime
    password_changed_at: datetime | None
    totp_role_required: bool = False
    """Whether the user's role must use TOTP by the settings table (admins always must: :attr:`totp_required`)."""

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def totp_required(self) -> bool:
        return self.role is Role.ADMIN or self.totp_role_required

    @property
    def must_enrol_totp(self) -> bool:
        return self.totp_required and not self.totp_enabled

    @property
    def name(self) -> str:
        """What "recorded by" shows: the display name, else the username."""
        return self.display_name or self.username


USER_COLUMNS = (
    "u.id, u.username, u.display_name, u.role, u.scope_kind, u.institution_id, u.must_change_password, "
    "u.totp_enabled, u.failed_sign_ins, u.locked_until, u.disabled_at, u.created_at, u.password_changed_at, "
    "EXISTS (SELECT 1 FROM totp_required_roles r WHERE r.role = u.role) AS totp_role_required"
)


def user_from_row(row: Any) -> User:
    return User(
        id=row["id"], username=row["username"], display_name=row["display_name"], role=Role(row["role"]),
        scope_kind=row["scope_kind"], institution_id=row["institution_id"],
        must_change_password=row["must_change_password"], totp_enabled=row["totp_enabled"],
        failed_sign_ins=row["failed_sign_ins"], locked_until=row["locked_until"], disabled_at=row["disabled_at"],
        created_at=row["created_at"], password_changed_at=row["password_changed_at"],
        totp_role_required=row["totp_role_required"],
    )


def clean_username(value: str) -> str:
    """NFC, trimmed, 1–64 characters, no control character (the API's input type checks the same)."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value or len(value) > USERNAME_MAX:
        raise UserError("validation", f"a username has 1 to {USERNAME_MAX} characters", field="username",
                        detail_zh=f"用户名为 1 至 {USERNAME_MAX} 个字符")
    if any(unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in value):
        raise UserError("validation", "a username holds no control or format character", field="username",
                        detail_zh="用户名不能含控制字符或格式字符")
    return value


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


class UserService:
    """Users in ``users``; see the module docstring."""

    def __init__(self, db: Executor, *, hasher: PasswordHasher | None = None, clock: Clock = utc_now,
                 lockout_threshold: int = 5, lockout_seconds: float = 900.0) -> None:
        self._db = db
        self._hasher = hasher or PasswordHasher()
        self._seal_key: bytes | None = None
        self.clock = clock
        self.lockout_threshold = lockout_threshold
        self.lockout = timedelta(seconds=lockout_seconds)
        self._dummy_hash: str | None = None

    # ---- reading ------------------------------------------------------------------------

    async def get(self, user_id: uuid.UUID) -> User | None:
        row = await self._db.fetchrow(f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)
        return user_from_row(row) if row is not None else None

    async def require(self, user_id: uuid.UUID) -> User:
        found = await self.get(user_id)
        if found is None:
            raise UserError("not-found", f"no user {user_id}", status=404, detail_zh=f"没有用户 {user_id}")
        return found

    async def find(self, username: str) -> User | None:
        row = await self._db.fetchrow(
            f"SELECT {USER_COLUMNS} FROM users u WHERE lower(u.username) = lower($1)", username.strip())
        return user_from_row(row) if row is not None else None

    async def token_owner(self, token_id: uuid.UUID) -> User | None:
        """The active user of an unrevoked personal token, or ``None``."""
        row = await self._db.fetchrow(
            f"SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.id = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL", token_id)
        return user_from_row(row) if row is not None else None

    async def list_users(self) -> list[User]:
        rows = await self._db.fetch(f"SELECT {USER_COLUMNS} FROM users u ORDER BY lower(u.username)")
        return [user_from_row(r) for r in rows]

    # ---- administration -----------------------------------------------------------------

    async def create(
        self, username: str, role: Role | str, *, institution_id: uuid.UUID | None = None,
        display_name: str = "", password: str | None = None, must_change_password: bool = True,
        actor_user_id: uuid.UUID | None = None, address: str = "",
    ) -> tuple[User, str | None]:
        """Create a user; return it and the temporary password made for it (``None`` if one was given)."""
        username = clean_username(username)
        try:
            role = Role(role)
        except ValueError:
            raise UserError("validation", f"unknown role {role!r}; choose one of "
                            f"{', '.join(r.value for r in Role)}", field="role",
                            detail_zh=f"未知角色 {role!r}；可选：{'、'.join(r.value for r in Role)}") from None
        if role in SCOPED_ROLES and institution_id is None:
            raise UserError("validation", f"a user with role {role.value} must name the institution it acts for",
                            field="institution_id", detail_zh=f"角色为 {role.value} 的用户须指明其所代表的机构")
        display_name = unicodedata.normalize("NFC", display_name).strip()
        if len(display_name) > DISPLAY_NAME_MAX:
            raise UserError("validation", f"a display name has at most {DISPLAY_NAME_MAX} characters",
                            field="display_name", detail_zh=f"显示名称至多 {DISPLAY_NAME_MAX} 个字符")
        made = None
        if password is None:
            password = made = temporary_password()
        else:
            check_strength(password, username=username, field="password")
        hashed = await _off_loop(self._hasher.hash, password)
        now = self.clock()
        try:
            row = await self._db.fetchrow(
                "INSERT INTO users (id, username, display_name, role, scope_kind, institution_id, password_hash, "
                "must_change_password, created_at, password_changed_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
                uuid.uuid4(), username, display_name, role.value,
                "institution" if institution_id is not None else "all", institution_id, hashed,
                must_change_password, now,
            )
        except asyncpg.UniqueViolationError:
            raise UserError("username-taken", f"the username {username!r} is taken (whatever its case)",
                            field="username", status=409,
                            detail_zh=f"用户名 {username!r} 已被占用（不区分大小写）") from None
        assert row is not None
        user = await self.require(row["id"])
        await record(self._db, K.USER_CREATED, now, user_id=user.id, actor_user_id=actor_user_id,
                     address=address, role=role.value,
                     institution_id=str(institution_id) if institution_id else None)
        return user, made

    async def disable(self, user_id: uuid.UUID, *, actor_user_id: uuid.UUID | None = None,
                      address: str = "") -> tuple[User, list[uuid.UUID]]:
        """Disable the user, end every session and revoke every personal token; return the tokens' ids."""
        now = self.clock()
        async with self._transaction() as conn:
            done = await conn.fetchval(
                "UPDATE users SET disabled_at = coalesce(disabled_at, $2) WHERE id = $1 RETURNING id", user_id, now)
            if done is None:
                raise UserError("not-found", f"no user {user_id}", status=404, detail_zh=f"没有用户 {user_id}")
            ended = await conn.fetchval(
                "WITH e AS (UPDATE sessions SET ended_at = $2, end_reason = 'user_disabled' "
                "WHERE user_id = $1 AND ended_at IS NULL RETURNING 1) SELECT count(*) FROM e", user_id, now)
            revoked = [r["id"] for r in await conn.fetch(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
                user_id, now)]
            await record(conn, K.USER_DISABLED, now, user_id=user_id, actor_user_id=actor_user_id,
                         address=address, sessions_ended=ended, tokens_revoked=len(revoked))
        return await self.require(user_id), revoked

    async def enable(self, user_id: uuid.UUID, *, actor_user_id: uuid.UUID | None = None,
                     address: str = "") -> User:
        now = self.clock()
        done = await self._db.fetchval(
            "UPDATE users SET disabled_at = NULL, failed_sign_ins = 0, locked_until = NULL WHERE id = $1 "
            "RETURNING id", user_id)
        if done is None:
            raise UserError("not-found", f"no user {user_id}", status=404, detail_zh=f"没有用户 {user_id}")
        await record(self._db, K.USER_ENABLED, now, user_id=user_id, actor_user_id=actor_user_id, address=address)
        return await self.require(user_id)

    async def reset_password(self, user_id: uuid.UUID, *, password: str | None = None,
                             actor_user_id: uuid.UUID | None = None, address: str = "") -> str | None:
        """Set a temporary password (made here unless given), to be changed at the next sign-in.

        Unlocks the account and ends its sessions. Returns the password made here, or ``None``.
        """
        user = await self.require(user_id)
        made = None
        if password is None:
            password = made = temporary_password()
        else:
            check_strength(password, username=user.username, field="password")
        hashed = await _off_loop(self._hasher.hash, password)
        now = self.clock()
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = $2, must_change_password = true, failed_sign_ins = 0, "
                "locked_until = NULL, password_changed_at = $3 WHERE id = $1", user_id, hashed, now)
            await conn.execute("UPDATE sessions SET ended_at = $2, end_reason = 'password_reset' "
                               "WHERE user_id = $1 AND ended_at IS NULL", user_id, now)
            await record(conn, K.PASSWORD_RESET, now, user_id=user_id, actor_user_id=actor_user_id,
                         address=address)
        return made

    async def change_password(self, user_id: uuid.UUID, current: str, new: str, *, address: str = "") -> User:
        """The user's own change: the current password, then the rules for the new one."""
        row = await self._db.fetchrow("SELECT username, password_hash FROM users WHERE id = $1", user_id)
        if row is None:
            raise UserError("not-found", f"no user {user_id}", status=404, detail_zh=f"没有用户 {user_id}")
        if not await _off_loop(self._verify, row["password_hash"], current):
            raise PasswordRejected("password.current_matches",
                                   "当前密码不正确 / the current password is wrong", "current_password")
        check_strength(new, username=row["username"])
        if new == current or await _off_loop(self._verify, row["password_hash"], new):
            raise PasswordRejected("password.not_reused",
                                   "新密码不能与当前密码相同 / the new password must differ from the current one")
        hashed = await _off_loop(self._hasher.hash, new)
        now = self.clock()
        await self._db.execute(
            "UPDATE users SET password_hash = $2, must_change_password = false, password_changed_at = $3 "
            "WHERE id = $1", user_id, hashed, now)
        await record(self._db, K.PASSWORD_CHANGED, now, user_id=user_id, actor_user_id=user_id, address=address)
        return await self.require(user_id)

    async def set_totp_requirement(self, role: Role, required: bool, *, actor_user_id: uuid.UUID | None = None,
                                   address: str = "") -> None:
        if required:
            await self._db.execute("INSERT INTO totp_required_roles (role) VALUES ($1) ON CONFLICT DO NOTHING",
                                   role.value)
        else:
            await self._db.execute("DELETE FROM totp_required_roles WHERE role = $1", role.value)
        await record(self._db, K.TOTP_REQUIREMENT_CHANGED, self.clock(), actor_user_id=actor_user_id,
                     address=address, role=role.value, required=required or role is Role.ADMIN)

    async def totp_required_roles(self) -> set[Role]:
        rows = await self._db.fetch("SELECT role FROM totp_required_roles")
        return {Role.ADMIN, *(Role(r["role"]) for r in rows)}

    # ---- signing in ---------------------------------------------------------------------

    async def sign_in(self, username: str, password: str, totp_code: str | None = None, *,
                      address: str = "") -> User:
        """The user, if all is right; :class:`SignInRefused` otherwise (see the module docstring)."""
        now = self.clock()
        row = await self._db.fetchrow(
            f"SELECT {USER_COLUMNS}, u.password_hash, u.totp_secret, u.totp_last_step "
            "FROM users u WHERE lower(u.username) = lower($1)", username.strip())
        if row is None:
            await _off_loop(self._verify, await self._dummy(), password)
            await record(self._db, K.SIGN_IN_FAILED, now, address=address, reason="unknown_user")
            raise SignInRefused("credentials")
        user = user_from_row(row)
        if user.locked_until is not None and user.locked_until > now:
            await record(self._db, K.SIGN_IN_FAILED, now, user_id=user.id, address=address, reason="locked")
            raise SignInRefused("locked", locked_until=user.locked_until)
        if not await _off_loop(self._verify, row["password_hash"], password):
            await self._failed(user, now, address, "password")
        if not user.active:
            await record(self._db, K.SIGN_IN_FAILED, now, user_id=user.id, address=address, reason="disabled")
            raise SignInRefused("credentials")
        if user.totp_enabled:
            if not totp_code:
                raise SignInRefused("totp_required")
            secret = await self._unseal(user.id, row["totp_secret"])
            if not await self._accept_code(user.id, secret, row["totp_last_step"], totp_code, now):
                await self._failed(user, now, address, "totp")
        await self._db.execute("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1", user.id)
        if self._hasher.check_needs_rehash(row["password_hash"]):
            fresh = await _off_loop(self._hasher.hash, password)
            await self._db.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user.id, fresh)
        return await self.require(user.id)

    async def _failed(self, user: User, now: datetime, address: str, what: str) -> None:
        row = await self._db.fetchrow(
            "UPDATE users SET failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= $2 THEN 0 "
            "ELSE failed_sign_ins + 1 END, "
            "locked_until = CASE WHEN failed_sign_ins + 1 >= $2 THEN $3 ELSE locked_until END "
            "WHERE id = $1 RETURNING locked_until", user.id, self.lockout_threshold, now + self.lockout)
        await record(self._db, K.SIGN_IN_FAILED, now, user_id=user.id, address=address,
                     reason="totp_invalid" if what == "totp" else "password")
        locked = row["locked_until"] if row is not None else None
        if locked is not None and locked > now:
            await record(self._db, K.ACCOUNT_LOCKED, now, user_id=user.id, address=address,
                         locked_until=locked.isoformat(), failures=self.lockout_threshold)
            raise SignInRefused("locked", locked_until=locked)
        raise SignInRefused("totp_invalid" if what == "totp" else "credentials")

    # ---- TOTP ---------------------------------------------------------------------------
    # The secrets are stored sealed with the server's key (ledger/sealed.py), bound to their user.

    async def _key(self) -> bytes:
        if self._seal_key is None:
            self._seal_key = await seal_key(self._db)
        return self._seal_key

    async def _seal(self, user_id: uuid.UUID, secret: str) -> str:
        return seal(await self._key(), secret, f"totp:{user_id}")

    async def _unseal(self, user_id: uuid.UUID, stored: str | None) -> str | None:
        """The secret, or ``None`` if there is none or it was sealed for another user (moved rows fail)."""
        if stored is None:
            return None
        try:
            return unseal(await self._key(), stored, f"totp:{user_id}")
        except InvalidTag:
            log.warning("totp_secret_unreadable", user_id=str(user_id))
            return None

    async def begin_totp(self, user_id: uuid.UUID) -> tuple[str, str]:
        """A new secret for the user to enrol (pending until confirmed); its base32 text and otpauth URI."""
        user = await self.require(user_id)
        if user.totp_enabled:
            raise UserError("totp-already-enabled", "this user already signs in with a second factor", status=409,
                            detail_zh="此用户已启用双重验证")
        secret = pyotp.random_base32()
        await self._db.execute("UPDATE users SET totp_pending_secret = $2 WHERE id = $1", user_id,
                               await self._seal(user_id, secret))
        return secret, totp_uri(secret, user.username)

    async def confirm_totp(self, user_id: uuid.UUID, code: str, *, address: str = "") -> User:
        row = await self._db.fetchrow(
            "SELECT totp_pending_secret, totp_enabled FROM users WHERE id = $1", user_id)
        if row is None:
            raise UserError("not-found", f"no user {user_id}", status=404, detail_zh=f"没有用户 {user_id}")
        if row["totp_enabled"]:
            raise UserError("totp-already-enabled", "this user already signs in with a second factor", status=409,
                            detail_zh="此用户已启用双重验证")
        secret = await self._unseal(user_id, row["totp_pending_secret"])
        if secret is None:
            raise UserError("totp-not-started", "start the enrolment first (POST /v1/session/totp)", status=409,
                            detail_zh="请先开始设置双重验证（POST /v1/session/totp）")
        now = self.clock()
        step = self._matching_step(secret, code, now, None)
        if step is None:
            raise UserError("totp.code_matches", "验证码不正确 / the code does not match; check the device's clock",
                            field="code")
        await self._db.execute(
            "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled = true, "
            "totp_last_step = $2 WHERE id = $1", user_id, step)
        await record(self._db, K.TOTP_ENROLLED, now, user_id=user_id, actor_user_id=user_id, address=address)
        return await self.require(user_id)

    @staticmethod
    def _matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
        code = code.strip()
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        current = int(now.timestamp()) // TOTP_STEP
        found = None
        for step in (current - 1, current, current + 1):  # every candidate compared, in constant time each
            if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
                found = step
        return found

    async def _accept_code(self, user_id: uuid.UUID, secret: str | None, last_step: int | None, code: str,
                           now: datetime) -> bool:
        if secret is None:
            return False
        step = self._matching_step(secret, code, now, last_step)
        if step is None:
            return False
        # Only a later step than the last one used: the same code twice (even at once) passes once.
        taken = await self._db.fetchval(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2) "
            "RETURNING id", user_id, step)
        return taken is not None

    # ---- helpers ------------------------------------------------------------------------

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(hashed, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await _off_loop(self._hasher.hash, temporary_password())
        return self._dummy_hash

    def _transaction(self) -> Any:
        return _Transaction(self._db)


class _Transaction:
    """``async with`` a connection in a transaction, from a pool or a connection."""

    def __init__(self, db: Executor) -> None:
        self._db = db
        self._conn: Any = None
        self._tx: Any = None
        self._acquired = False

    async def __aenter__(self) -> asyncpg.Connection:
        if isinstance(self._db, asyncpg.Pool):
            self._conn = await self._db.acquire()
            self._acquired = True
        else:
            self._conn = self._db
        self._tx = self._conn.transaction()
        await self._tx.start()
        return self._conn  # type: ignore[no-any-return]

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            if self._acquired:
                await self._db.release(self._conn)  # type: ignore[union-attr]
