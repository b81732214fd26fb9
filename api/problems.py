"""Problem details for HTTP APIs (RFC 9457): every error is ``application/problem+json``.

A problem has the standard members ``type`` (a URI naming the kind of
problem: ``https://ttledger.dev/problems/<rule-or-kind>``), ``title``,
``status``, ``detail`` and ``instance`` (the request path), plus extension
members:

* ``request_id`` on every problem, to quote when reporting it;
* ``errors``: a list of ``{field, rule, detail}`` for validation and domain
  errors, ``field`` being the path of the offending input (``owners[1].share``)
  and ``rule`` a stable code (a domain rule name from docs/rules.md, or
  ``validation.<pydantic error type>``);
* ``stream_id``, ``expected_version``, ``current_version`` on version conflicts.

Language (api/language.py): ``title`` is in the request's language (every
title has its Chinese in ``TITLES_ZH``; a domain error's title is its rule's
meaning), and so is ``detail``: every problem our code raises gives its
Chinese detail (``detail_zh=`` of :class:`HTTPProblem` and of the constructors
below; tests/unit/test_problem_titles.py fails on a raise without one). A domain
error's Chinese detail is ``{rule.name_zh}（{field}）：{DomainError.detail_zh}`` (every
``require``/``DomainError`` gives its Chinese: tests/unit/test_error_texts_zh.py), its English
detail ``DomainError.detail``. An entry of ``errors`` may carry its own ``detail_zh`` (shown as its
``detail`` in Chinese, never as a member; a domain error's entry carries its ``detail_zh``); one
naming a rule of docs/rules.md carries the rule's ``meaning`` in that language, its Chinese name
``name_zh`` and its legal ``citation``.

:func:`problem_for` maps the exceptions of the layers below to problems; the
middleware (``api/middleware.py``) applies it to whatever a handler raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.language import language_of
from domain.errors import RULES, DomainError
from domain.inputs import LIST_LENGTH
from ledger.bus import IdempotencyKeyReused
from ledger.connectivity import is_connection_failure
from ledger.repository import AggregateNotFound
from ledger.store import ConcurrencyConflict, StoreError, UnstorablePayload

PROBLEM_BASE = "https://ttledger.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def request_key(name: str, tp: type) -> Any:
    """A typed ``web.RequestKey`` (aiohttp >= 3.13), or a namespaced string key before it."""
    factory = getattr(web, "RequestKey", None)
    return factory(name, tp) if factory is not None else f"ttledger.{name}"


REQUEST_ID_KEY = request_key("request_id", str)
RETRY_AFTER_UNAVAILABLE = 5


def problem_type(kind: str) -> str:
    return PROBLEM_BASE + kind


# ---- documents (also the OpenAPI schema of every error response) ------------


class FieldError(BaseModel):
    """One reason a request was refused, pointing at the input that caused it."""

    model_config = ConfigDict(extra="allow")

    field: str = Field(description="Path of the offending input, e.g. `owners[1].share`; empty for the whole body.")
    rule: str = Field(description="Stable code: a rule name from docs/rules.md or `validation.<type>`.")
    detail: str = Field(description="What is wrong, for a person.")


class Problem(BaseModel):
    """An RFC 9457 problem details document."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(
        default="about:blank",
        description="URI of the kind of problem: `https://ttledger.dev/problems/<rule-or-kind>`.",
    )
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong in this occurrence.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Quote it when reporting the problem.")
    errors: list[FieldError] | None = Field(
        default=None, description="For validation and domain errors: each offending input."
    )


class HTTPProblem(Exception):
    """Raise from anywhere in a request to answer with this problem."""

    def __init__(
        self,
        status: int,
        kind: str | None,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        title_zh: str | None = None,
        detail_zh: str | None = None,
        **extensions: Any,
    ) -> None:
        self.status = status
        self.type = problem_type(kind) if kind else "about:blank"
        self.title = title
        if detail_zh is None and detail is not None:
            detail, detail_zh = split_bilingual(detail)
        self.detail = detail
        self.title_zh = title_zh
        self.detail_zh = detail_zh
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(f"{status} {title}: {detail}")

    def title_in(self, lang: str) -> str:
        if lang != "zh":
            return self.title
        return self.title_zh or TITLES_ZH.get(self.title, self.title)

    def detail_in(self, lang: str) -> str | None:
        return self.detail_zh if lang == "zh" and self.detail_zh else self.detail

    def document(self, request: web.Request) -> dict[str, Any]:
        lang = language_of(request)
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title_in(lang),
            "status": self.status,
            "detail": self.detail_in(lang),
            "instance": request.path,
        }
        doc.update(self.extensions)
        if isinstance(doc.get("errors"), list):
            doc["errors"] = [localized_error(e, lang) for e in doc["errors"]]
        request_id = request.get(REQUEST_ID_KEY)
        if request_id:
            doc["request_id"] = request_id
        return doc

    def response(self, request: web.Request) -> web.Response:
        body = json.dumps(self.document(request), ensure_ascii=False, default=str)
        return web.Response(
            text=body, status=self.status, content_type=PROBLEM_CONTENT_TYPE, headers=self.headers
        )


# ---- texts in Chinese -----------------------------------------------------------

_BILINGUAL = re.compile(r"(?P<zh>[^/]*[\u4e00-\u9fff][^/]*?) / (?P<en>[^\u4e00-\u9fff]+)", re.S)
HAN = re.compile(r"[\u4e00-\u9fff]")


def split_bilingual(text: str) -> tuple[str, str | None]:
    """``"中文 / English"`` (how the account layer words its refusals) as ``("English", "中文")``; any other
    text as ``(text, None)``."""
    match = _BILINGUAL.fullmatch(text)
    if match is None:
        return text, None
    return match["en"].strip(), match["zh"].strip()


TITLES_ZH: dict[str, str] = {
    "Account locked": "账户已锁定",
    "Authentication required": "需要身份认证",
    "Bad request": "请求有误",
    "Forbidden": "无权访问",
    "Idempotency key reused": "幂等键已被使用",
    "Internal server error": "服务器内部错误",
    "Not finished": "尚未完成",
    "Not found": "未找到",
    "Payload too large": "请求内容过大",
    "Position not reached yet": "尚未达到指定日志位置",
    "Refused": "已拒绝",
    "Second factor required": "需要第二重验证",
    "Service unavailable": "服务暂不可用",
    "Sign-in failed": "登录失败",
    "The request holds what the ledger cannot store": "请求含有账本无法存储的内容",
    "The request is not valid": "请求未通过校验",
    "Too many requests": "请求过于频繁",
    "Version conflict": "版本冲突",
    "Wrong code": "验证码错误",
    "Method not allowed": "不允许的请求方法",
    "Not acceptable": "无法提供所要求的格式",
    "Request timeout": "请求超时",
    "Length required": "需要注明内容长度",
    "Request body too large": "请求内容过大",
    "URI too long": "网址过长",
    "Unsupported media type": "不支持的内容类型",
    "Request header fields too large": "请求头过大",
}
"""The Chinese title of every problem type's English title (tests/unit/test_problem_titles.py
checks that every title raised in api/ has one)."""


def localized_error(entry: Any, lang: str) -> Any:
    """An ``errors`` entry with its detail, its rule's meaning in ``lang``, its Chinese name and its citation."""
    if not isinstance(entry, dict):
        return entry
    detail = entry.get("detail")
    if "detail_zh" in entry or (isinstance(detail, str) and _BILINGUAL.fullmatch(detail)):
        entry = dict(entry)
        detail_zh = entry.pop("detail_zh", None)
        if detail_zh is None and isinstance(detail, str):
            entry["detail"], detail_zh = split_bilingual(detail)
        if lang == "zh" and detail_zh:
            entry["detail"] = detail_zh
    declared = RULES.get(str(entry.get("rule", "")))
    if declared is None:
        return entry
    out = dict(entry)
    out["meaning"] = declared.meaning_in(lang)
    out["name_zh"] = declared.name_zh
    out["citation"] = declared.citation or None
    out.setdefault("source", declared.source)
    return out


# ---- field paths -------------------------------------------------------------


def field_path(loc: Sequence[int | str]) -> str:
    """pydantic's ``('owners', 1, 'share')`` as ``owners[1].share``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PYDANTIC_TO_RULE = {"too_long": LIST_LENGTH.name}


def _validation_rule(error_type: str) -> str:
    """An input rule's own name (domain/inputs.py raises errors typed by it), else ``validation.<type>``."""
    if error_type in RULES:
        return error_type
    return _PYDANTIC_TO_RULE.get(error_type, f"validation.{error_type}")


_PYDANTIC_ZH: dict[str, str] = {
    "missing": "缺少此项（必填）",
    "extra_forbidden": "不接受此项：请求中没有这一字段",
    "int_type": "须为整数", "int_parsing": "须为整数", "int_from_float": "须为整数，不能有小数部分",
    "bool_type": "须为 true 或 false", "bool_parsing": "须为 true 或 false",
    "string_type": "须为文本", "string_too_long": "文本过长：至多 {max_length} 个字符",
    "string_too_short": "文本过短：至少 {min_length} 个字符", "string_pattern_mismatch": "格式不符",
    "greater_than_equal": "须不小于 {ge}", "less_than_equal": "须不大于 {le}",
    "greater_than": "须大于 {gt}", "less_than": "须小于 {lt}",
    "date_type": "须为日期（YYYY-MM-DD）", "date_parsing": "须为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "须为日期（YYYY-MM-DD）", "date_from_datetime_inexact": "须为日期，不含时刻",
    "datetime_type": "须为时间（ISO 8601）", "datetime_parsing": "须为时间（ISO 8601）",
    "uuid_type": "须为 UUID", "uuid_parsing": "须为 UUID（如 123e4567-e89b-12d3-a456-426614174000）",
    "enum": "须为以下之一：{expected}", "literal_error": "须为以下之一：{expected}",
    "list_type": "须为列表", "too_long": "项数过多：至多 {max_length} 项", "too_short": "项数过少：至少 {min_length} 项",
    "dict_type": "须为对象", "model_type": "须为对象", "model_attributes_type": "须为对象",
    "json_invalid": "不是有效的 JSON", "json_type": "须为 JSON",
    "decimal_type": "须为数字", "decimal_parsing": "须为数字",
    "decimal_max_places": "小数位过多：至多 {decimal_places} 位", "decimal_max_digits": "位数过多：至多 {max_digits} 位",
    "decimal_whole_digits": "整数位过多：至多 {whole_digits} 位", "finite_number": "须为有限的数",
    "float_type": "须为数字", "float_parsing": "须为数字", "frozen_instance": "不可修改",
    "union_tag_invalid": "类别不符：须为以下之一：{expected_tags}", "value_error": "值无效",
    "assertion_error": "值无效", "url_parsing": "须为网址",
}
"""Chinese for pydantic's own error types (its messages are English); the limits come from the schema."""


def _detail_zh(err: Any) -> str:
    """The error in Chinese: an input rule's Chinese name and meaning, or pydantic's type, with its limits."""
    declared = RULES.get(err["type"])
    if declared is not None and declared.name_zh:
        said = (err.get("ctx") or {}).get("zh")  # the input rule's own Chinese, with its figures
        return f"{declared.name_zh}：{said if isinstance(said, str) else declared.meaning_zh or err['msg']}"
    template = _PYDANTIC_ZH.get(err["type"])
    if template is None:
        return f"输入无效（{err['type']}）"
    try:
        return template.format(**{k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, int | str)})
    except (KeyError, IndexError, ValueError):
        return template.split("：")[0]


def validation_errors(exc: ValidationError, where: str | None = None) -> list[dict[str, Any]]:
    """pydantic errors as ``{field, rule, detail}`` entries; never echoes the input (the context holds
    only the schema's limits)."""
    entries: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=True):
        entry: dict[str, Any] = {
            "field": field_path(err["loc"]),
            "rule": _validation_rule(err["type"]),
            "detail": err["msg"],
            "detail_zh": _detail_zh(err),
        }
        if where:
            entry["in"] = where
        entries.append(entry)
    return entries


# ---- constructors for the common problems ------------------------------------


def bad_request(kind: str, detail: str, *, detail_zh: str | None = None, **extensions: Any) -> HTTPProblem:
    return HTTPProblem(400, kind, "Bad request", detail, detail_zh=detail_zh, **extensions)


def unprocessable(errors: list[dict[str, Any]], detail: str | None = None, *,
                  detail_zh: str | None = None) -> HTTPProblem:
    """422 ``validation``; without ``detail``, "n input(s) failed validation" in the request's language."""
    return HTTPProblem(
        422, "validation", "The request is not valid",
        detail or f"{len(errors)} input(s) failed validation; see errors",
        detail_zh=detail_zh if detail else f"{len(errors)} 项输入未通过校验，见 errors",
        errors=errors,
    )


def unauthenticated(detail: str, *, detail_zh: str | None = None, error: str | None = "invalid_token") -> HTTPProblem:
    challenge = 'Bearer realm="ttledger"'
    if error:
        challenge += f', error="{error}"'
    return HTTPProblem(401, "unauthenticated", "Authentication required", detail, detail_zh=detail_zh,
                       headers={"WWW-Authenticate": challenge})


def forbidden(kind: str, detail: str, *, detail_zh: str | None = None, **extensions: Any) -> HTTPProblem:
    return HTTPProblem(403, kind, "Forbidden", detail, detail_zh=detail_zh, **extensions)


def too_many_requests(retry_after: int, detail: str, *, detail_zh: str | None = None) -> HTTPProblem:
    return HTTPProblem(429, "too-many-requests", "Too many requests", detail, detail_zh=detail_zh,
                       headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


def unavailable(detail: str = "the database is unreachable; retry shortly",
                detail_zh: str = "数据库暂时无法连接，请稍后重试") -> HTTPProblem:
    return HTTPProblem(503, "database-unavailable", "Service unavailable", detail, detail_zh=detail_zh,
                       headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})


def internal_error() -> HTTPProblem:
    return HTTPProblem(
        500, "internal-error", "Internal server error",
        "an unexpected error occurred; nothing in it is about your request's content. "
        "Quote the request_id when reporting it.",
        detail_zh="发生了意外错误，与您请求的内容无关。报告时请提供 request_id。",
    )


# ---- exceptions of the layers below -> problems --------------------------------

def is_database_unavailable(exc: BaseException) -> bool:
    """Connection-level failures (``ledger/connectivity.py``), or the store closed under a request."""
    if is_connection_failure(exc):
        return True
    return isinstance(exc, StoreError) and "store is closed" in str(exc)


_HTTP_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    408: ("request-timeout", "Request timeout"),
    411: ("length-required", "Length required"),
    413: ("payload-too-large", "Request body too large"),
    414: ("uri-too-long", "URI too long"),
    415: ("unsupported-media-type", "Unsupported media type"),
    431: ("headers-too-large", "Request header fields too large"),
}
_PASS_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> HTTPProblem:
    status = exc.status
    kind, title = _HTTP_KINDS.get(status, (None, exc.reason))
    headers = {h: exc.headers[h] for h in _PASS_HEADERS if h in exc.headers}
    detail_zh = None
    if status == 404:
        detail = f"no resource at {request.path}"
        detail_zh = f"{request.path} 处没有资源"
    elif status == 405:
        allowed = exc.headers.get("Allow", "")
        detail = f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
        detail_zh = f"{request.path} 不允许 {request.method} 请求；允许：{allowed}"
    elif status == 413:
        limit = getattr(request, "client_max_size", None) or request._client_max_size
        detail = f"the request body exceeds the limit of {limit} bytes"
        detail_zh = f"请求内容超过 {limit} 字节的上限"
    elif status >= 500:
        return internal_error()
    else:
        detail = exc.text if exc.text and exc.text != f"{status}: {exc.reason}" else exc.reason
        detail_zh = f"{TITLES_ZH.get(title, title)}（{detail}）" if detail else None
    return HTTPProblem(status, kind, title, detail, headers=headers, detail_zh=detail_zh)


def _rule_name(exc: BaseException, default: str) -> str:
    """The rule an exception of the layers below names (a ``domain.errors.Rule`` or a string)."""
    rule = getattr(exc, "rule", None)
    name = getattr(rule, "name", rule)
    return name if isinstance(name, str) and name else default


def _domain_detail_zh(exc: DomainError) -> str | None:
    """The rule's Chinese name first, then the field and the Chinese detail of this occurrence (its
    English detail when it has none)."""
    if not exc.rule.name_zh:
        return exc.detail_zh
    where = f"（{exc.field}）" if exc.field else ""
    return f"{exc.rule.name_zh}{where}：{exc.detail_zh or exc.detail}"


def problem_for(exc: BaseException, request: web.Request) -> HTTPProblem | None:
    """The problem answering ``exc``; ``None`` when it is unexpected (a 500)."""
    if isinstance(exc, HTTPProblem):
        return exc
    if isinstance(exc, DomainError):
        return HTTPProblem(
            422, exc.rule.name, exc.rule.meaning, exc.detail, errors=[exc.as_dict()],
            title_zh=exc.rule.meaning_zh or None,
            detail_zh=_domain_detail_zh(exc),
        )
    if isinstance(exc, ValidationError):
        return unprocessable(validation_errors(exc))
    if isinstance(exc, AggregateNotFound):
        return HTTPProblem(
            404, "not-found", "Not found", str(exc),
            detail_zh=f"未找到记录（{exc.kind} {exc.aggregate_id}）",
            aggregate=exc.kind, aggregate_id=str(exc.aggregate_id),
        )
    if isinstance(exc, ConcurrencyConflict):
        return HTTPProblem(
            409, _rule_name(exc, "stream_version_is_current"), "Version conflict",
            f"{exc}; reload it and decide again (send If-Match with the version you read)",
            detail_zh=f"记录已更新到版本 {exc.actual_version}（您依据的是版本 {exc.expected_version}）；"
            "请重新读取后再决定（以 If-Match 发送您读取的版本）",
            headers={"ETag": f'"{exc.actual_version}"'},
            stream_id=str(exc.stream_id),
            expected_version=exc.expected_version,
            current_version=exc.actual_version,
        )
    if isinstance(exc, UnstorablePayload):
        # Defence in depth: input checks should have refused it, but the store did (nothing written).
        name = _rule_name(exc, "payload_storable")
        detail = f"the {exc.event_name} event this request would record cannot be stored: {exc.reason}"
        return HTTPProblem(
            422, name, "The request holds what the ledger cannot store", detail,
            detail_zh=f"本请求要记录的 {exc.event_name} 事件无法存储：{exc.reason}",
            errors=[{"field": exc.field, "rule": name, "detail": exc.reason, "event": exc.event_name}],
        )
    if isinstance(exc, IdempotencyKeyReused):
        name = _rule_name(exc, "idempotency_key_reuse")
        return HTTPProblem(
            409, name, "Idempotency key reused", str(exc),
            detail_zh="此 Idempotency-Key 已用于另一个请求（请求体不同）；新的请求请使用新的键",
            errors=[{"field": "Idempotency-Key", "rule": name, "detail": str(exc), "in": "header"}],
        )
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        return _from_http_exception(exc, request)
    if is_database_unavailable(exc):
        return unavailable()
    return None


def problem_responses(statuses: Iterable[int]) -> dict[str, Any]:
    """OpenAPI ``responses`` entries for these error statuses (see api/routing.py)."""
    return {str(s): {"$ref": f"#/components/responses/Problem{s}"} for s in sorted(set(statuses))}


PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: invalid JSON, wrong content type, bad header.",
    401: "Missing, malformed, unknown or revoked token.",
    403: "The token's role may not use this route, or not for this institution.",
    404: "No such resource.",
    409: "Version conflict (`If-Match` stale) or idempotency key reused with another body.",
    413: "Request body larger than the configured limit.",
    422: "Validation or domain rule failed; see `errors`.",
    429: "Too many failed authentications from this address; see `Retry-After`.",
    500: "Unexpected error; quote `request_id`.",
    503: "Database unreachable; retry after `Retry-After` seconds.",
}
