"""Declare a route once; get the aiohttp route, request checking and OpenAPI 3.1.

A route module makes a :class:`RouteRegistry` and decorates handlers::

    from api.routing import Call, Reply, RouteRegistry
    from ledger.tokens import Role

    routes = RouteRegistry()

    @routes.post(
        "/v1/achievements",
        roles={Role.ADMIN, Role.INSTITUTION},
        body=RegisterAchievement,          # pydantic model of the JSON body
        response=AchievementView,          # pydantic model (or list[...]) of the reply
        status=201,
        idempotency_key=True,              # accept Idempotency-Key
        summary="Register an achievement",
        tags=("achievements",),
    )
    async def register_achievement(call: Call[RegisterAchievement, None]) -> Reply[AchievementView]:
        require_institution(call.principal, call.body.institution_id)
        outcome = await call.ledger.bus.execute(call.body, handle, idempotency_key=call.idempotency_key)
        return Reply(AchievementView(...), headers={"Location": ...})

and the app factory includes the registry. Before the handler runs, the
wrapper has, in this order: authenticated the bearer token (401/429) and
checked the role (403) unless the route is public (``roles=PUBLIC``);
validated path and query parameters (422); parsed the ``Idempotency-Key`` and
``If-Match`` headers when the route accepts them (400 if malformed); read the
body (413 over the limit, 400 if not JSON) and validated it (422). The
handler's return value is validated against ``response`` and serialised (for
a regulator's token through its redaction, ``api/redaction.py``); a
handler may also return a :class:`Reply` (status, headers) or any aiohttp
response. Whatever it raises becomes a problem+json (``api/problems.py``).

``RouteRegistry.table()`` lists ``(method, path, roles)`` for every route, so
tests can check the role matrix of the whole API, and
``RouteRegistry.openapi()`` builds the OpenAPI 3.1 document from the same
declarations.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from api.auth import authenticate, authorize
from api.language import LANG_DESCRIPTION, LANG_PARAMETER, LANGUAGES, language_of
from api.middleware import request_id_of
from api.problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_DESCRIPTIONS,
    Problem,
    bad_request,
    field_path,
    unauthenticated,
    unprocessable,
    validation_errors,
)
from api.redaction import RegulatorView, regulator_view
from api.response_cache import RESPONSE_CACHE, cacheable, request_key
from api.state import LEDGER
from domain.inputs import DATE_IN_RANGE, check_date_range
from ledger.actor import actor_of_principal, current_actor
from ledger.bootstrap import Ledger
from ledger.store import ConcurrencyConflict
from ledger.tokens import Principal, Role

B = TypeVar("B")
Q = TypeVar("Q")
R = TypeVar("R")

PUBLIC: None = None
"""``roles=PUBLIC``: the route needs no token."""
ANY_ROLE: frozenset[Role] = frozenset(Role)
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
REF_TEMPLATE = "#/components/schemas/{model}"

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IF_MATCH_PATTERN = r'^(?:\*|"\d{1,18}"|\d{1,18})$'
"""What ``Idempotency-Key`` and ``If-Match`` must look like: checked here and stated in the OpenAPI document."""
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_IF_MATCH = re.compile(r'^(?:"(\d{1,18})"|(\d{1,18}))$')
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")


def etag(version: int) -> str:
    """The ``ETag`` value for an aggregate at ``version`` (clients send it back in ``If-Match``)."""
    return f'"{version}"'


def ensure_version(stream_id: UUID, current_version: int, expected_version: int | None) -> None:
    """Refuse a change decided on a stale version (``If-Match``): 409 with the current one.

    Call it in a command handler after loading the aggregate, and run the
    command with ``bus.execute(..., retry_on_conflict=call.expected_version is None)``
    so that a race after the check is reported the same way, not retried.
    """
    if expected_version is not None and expected_version != current_version:
        raise ConcurrencyConflict(stream_id, expected_version, current_version)


@dataclass(frozen=True)
class Reply(Generic[R]):
    """A handler's result with a non-default status or extra headers (``Location``, ``ETag``)."""

    body: R
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call(Generic[B, Q]):
    """Everything a handler needs, already checked."""

    request: web.Request
    body: B
    """The validated body model (``None`` when the route declares none)."""
    query: Q
    """The validated query model (``None`` when the route declares none)."""
    path: Any
    """The validated path model, or the raw ``match_info`` dict when none is declared."""
    maybe_principal: Principal | None
    idempotency_key: str | None = None
    """``Idempotency-Key`` (routes with ``idempotency_key=True``); pass it to ``bus.execute``."""
    expected_version: int | None = None
    """The version in ``If-Match`` (routes with ``if_match=True``); pin commands to it."""
    regulator: RegulatorView | None = None
    """A regulator's token: every JSON answer passes through this redaction (api/redaction.py) on its
    way out; a handler that builds a download passes its figures through ``regulator.figures``."""

    @property
    def principal(self) -> Principal:
        if self.maybe_principal is None:
            raise unauthenticated("this route needs an API token", detail_zh="此接口需要 API 令牌", error=None)
        return self.maybe_principal

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def ledger(self) -> Ledger:
        return self.request.app[LEDGER]


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None
    operation_id: str
    summary: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    idempotency_key: bool = False
    if_match: bool = False
    include_in_schema: bool = True
    media_types: tuple[str, ...] = ()
    """Further media types of the success answer (downloads chosen by a query parameter)."""
    cached: bool = False
    """Answers kept until the projections move (api/response_cache.py)."""
    account: bool = False
    """A write to the caller's own account or session (password, second factor, personal tokens),
    never to the ledger: open to every role, the read-only regulator included."""

    @property
    def public(self) -> bool:
        return self.roles is None

    @property
    def path_names(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def openapi_path(self) -> str:
        return _PATH_PARAM.sub(r"{\1}", self.path)


class RouteRegistry:
    """An ordered set of declared routes; see the module docstring."""

    def __init__(self) -> None:
        self._routes: list[RouteSpec] = []
        self._adapters: dict[int, TypeAdapter[Any]] = {}

    # ---- declaring ------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        *,
        roles: Iterable[Role | str] | None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        path_params: type[BaseModel] | None = None,
        response: Any = None,
        status: int | None = None,
        summary: str = "",
        description: str = "",
        tags: Iterable[str] = (),
        idempotency_key: bool = False,
        if_match: bool = False,
        operation_id: str | None = None,
        include_in_schema: bool = True,
        media_types: Iterable[str] = (),
        account: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. ``roles`` is required: a set of roles, or ``PUBLIC``."""
        method = method.upper()
        role_set = None if roles is None else frozenset(Role(r) for r in roles)
        if role_set is not None and not role_set:
            raise ValueError(f"{method} {path}: roles is empty; use PUBLIC for a public route")
        if role_set and Role.REGULATOR in role_set and method not in READ_ONLY_METHODS and not account:
            raise ValueError(f"{method} {path}: the regulator role is read-only")
        for model, what in ((body, "body"), (query, "query"), (path_params, "path_params")):
            if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{method} {path}: {what} must be a pydantic model class")
        if body is not None and method in READ_ONLY_METHODS:
            raise ValueError(f"{method} {path}: a {method} route takes no body")

        def register(handler: Handler) -> Handler:
            spec = RouteSpec(
                method=method, path=path, handler=handler, roles=role_set,
                operation_id=operation_id or handler.__name__,
                summary=summary or _first_line(handler.__doc__),
                description=description or _rest(handler.__doc__),
                tags=tuple(tags), body=body, query=query, path_params=path_params,
                response=response,
                status=status or (200 if response is not None else 204),
                idempotency_key=idempotency_key, if_match=if_match, account=account,
                include_in_schema=include_in_schema, media_types=tuple(media_types),
                cached=role_set is not None and cacheable(method, path),
            )
            self.add(spec)
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def add(self, spec: RouteSpec) -> None:
        for existing in self._routes:
            if (existing.method, existing.openapi_path) == (spec.method, spec.openapi_path):
                raise ValueError(f"{spec.method} {spec.path} is declared twice")
            if existing.operation_id == spec.operation_id:
                raise ValueError(f"operation id {spec.operation_id!r} is used twice")
        if spec.path_params is not None:
            declared = set(spec.path_params.model_fields)
            if declared != set(spec.path_names):
                raise ValueError(f"{spec.method} {spec.path}: path_params fields {sorted(declared)} "
                                 f"do not match the path's {spec.path_names}")
        self._routes.append(spec)

    def include(self, other: RouteRegistry) -> None:
        for spec in other.routes:
            self.add(spec)

    # ---- introspection --------------------------------------------------

    @property
    def routes(self) -> tuple[RouteSpec, ...]:
        return tuple(self._routes)

    def table(self) -> list[tuple[str, str, frozenset[Role] | None]]:
        """``(method, path, roles)`` of every route; ``roles`` is ``None`` for public ones."""
        return [(s.method, s.path, s.roles) for s in self._routes]

    # ---- serving --------------------------------------------------------

    def install(self, app: web.Application) -> None:
        for spec in self._routes:
            wrapped = self._wrap(spec)
            if spec.method == "GET":
                app.router.add_get(spec.path, wrapped, name=spec.operation_id)
            else:
                app.router.add_route(spec.method, spec.path, wrapped, name=spec.operation_id)

    def _adapter(self, tp: Any) -> TypeAdapter[Any]:
        key = id(tp)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = TypeAdapter(tp)
        return adapter

    def _wrap(self, spec: RouteSpec) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        response_adapter = self._adapter(spec.response) if spec.response is not None else None

        async def handle(request: web.Request) -> web.StreamResponse:
            who: Principal | None = None
            if spec.roles is not None:
                who = await authenticate(request)
                authorize(who, spec.roles)
                # Every event this request's command records names who sent it (ledger/actor.py).
                current_actor.set(actor_of_principal(who, request_id_of(request)))
            regulator = await regulator_view(request, who)
            errors: list[dict[str, Any]] = []
            path: Any = dict(request.match_info)
            if spec.path_params is not None:
                path = _validate(spec.path_params, path, "path", errors)
            query = None
            if spec.query is not None:
                query = _validate(spec.query, _query_input(request, spec.query), "query", errors)
            key = _idempotency_key(request) if spec.idempotency_key else None
            expected = _if_match(request) if spec.if_match else None
            body = None
            if spec.body is not None:
                body = await _read_body(request, spec.body, errors)
            if errors:
                raise unprocessable(errors)
            call: Call[Any, Any] = Call(request, body, query, path, who, key, expected, regulator)
            cache = request.app.get(RESPONSE_CACHE) if spec.cached and who is not None else None
            if cache is not None and who is not None:
                async def compute() -> web.StreamResponse:
                    return _render(spec, response_adapter, await spec.handler(call), regulator)

                cache_key = request_key(spec.operation_id, who.role, who.institution_id, query, path,
                                        language_of(request))
                return await cache.answer(request, cache_key, getattr(query, "min_position", None), compute)
            result = await spec.handler(call)
            return _render(spec, response_adapter, result, regulator)

        handle.__name__ = f"route_{spec.operation_id}"
        return handle

    # ---- OpenAPI --------------------------------------------------------

    def openapi(
        self, *, title: str = "ttledger API", version: str = "0.1.0", description: str = ""
    ) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every route with ``include_in_schema``."""
        specs = [s for s in self._routes if s.include_in_schema]
        inputs: list[tuple[tuple[str, str], Any, TypeAdapter[Any]]] = []
        for s in specs:
            for kind, model, mode in (
                ("body", s.body, "validation"),
                ("query", s.query, "validation"),
                ("path", s.path_params, "validation"),
                ("response", s.response, "serialization"),
            ):
                if model is not None:
                    inputs.append(((s.operation_id, kind), mode, self._adapter(model)))
        inputs.append((("", "problem"), "serialization", TypeAdapter(Problem)))
        mapping, defs = TypeAdapter.json_schemas(
            inputs, ref_template=REF_TEMPLATE, schema_generator=ApiJsonSchema
        )
        schemas: dict[str, Any] = dict(defs.get("$defs", {}))

        def schema(op: str, kind: str, mode: str) -> dict[str, Any]:
            return dict(mapping[((op, kind), cast(Any, mode))])

        def resolve(ref_schema: dict[str, Any]) -> dict[str, Any]:
            ref = ref_schema.get("$ref", "")
            return dict(schemas[ref.rsplit("/", 1)[-1]]) if ref else ref_schema

        problem_ref = schema("", "problem", "serialization")
        paths: dict[str, dict[str, Any]] = {}
        tags: list[str] = []
        for s in specs:
            op: dict[str, Any] = {"operationId": s.operation_id}
            if s.summary:
                op["summary"] = s.summary
            description_lines = [s.description] if s.description else []
            if s.roles is None:
                op["security"] = []
            else:
                op["security"] = [{"bearer": []}]
                op["x-roles"] = sorted(r.value for r in s.roles)
                description_lines.append("Roles: " + ", ".join(op["x-roles"]) + ".")
            if description_lines:
                op["description"] = "\n\n".join(description_lines)
            if s.tags:
                op["tags"] = list(s.tags)
                tags.extend(t for t in s.tags if t not in tags)
            params: list[dict[str, Any]] = []
            path_props: dict[str, Any] = {}
            if s.path_params is not None:
                path_props = resolve(schema(s.operation_id, "path", "validation")).get("properties", {})
            for name in s.path_names:
                params.append({"name": name, "in": "path", "required": True,
                               "schema": path_props.get(name, {"type": "string"})})
            if s.query is not None:
                q = resolve(schema(s.operation_id, "query", "validation"))
                required = set(q.get("required", []))
                for name, prop in q.get("properties", {}).items():
                    param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                             "schema": prop}
                    if "description" in prop:
                        param["description"] = prop["description"]
                    params.append(param)
            if not any(p.get("name") == LANG_PARAMETER and p.get("in") == "query" for p in params):
                params.append({"$ref": "#/components/parameters/Lang"})
            if s.idempotency_key:
                params.append({"$ref": "#/components/parameters/IdempotencyKey"})
            if s.if_match:
                params.append({"$ref": "#/components/parameters/IfMatch"})
            if params:
                op["parameters"] = params
            if s.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schema(s.operation_id, "body", "validation")}},
                }
            success: dict[str, Any] = {"description": _status_text(s.status)}
            if s.response is not None:
                success["content"] = {
                    "application/json": {"schema": schema(s.operation_id, "response", "serialization")}
                }
            for media_type in s.media_types:
                success.setdefault("content", {})[media_type] = {"schema": MEDIA_TYPE_SCHEMAS.get(
                    media_type, {"type": "string", "format": "binary"})}
            responses: dict[str, Any] = {str(s.status): success}
            for code in sorted(_error_statuses(s)):
                responses[str(code)] = {"$ref": f"#/components/responses/Problem{code}"}
            op["responses"] = responses
            paths.setdefault(s.openapi_path, {})[s.method.lower()] = op

        problem_responses: dict[str, Any] = {}
        for code, text in PROBLEM_DESCRIPTIONS.items():
            entry: dict[str, Any] = {
                "description": text,
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
            }
            if code in (429, 503):
                entry["headers"] = {"Retry-After": {"description": "Seconds to wait.",
                                                    "schema": {"type": "integer"}}}
            if code == 401:
                entry["headers"] = {"WWW-Authenticate": {"description": "Bearer challenge.",
                                                         "schema": {"type": "string"}}}
            problem_responses[f"Problem{code}"] = entry

        doc: dict[str, Any] = {
            "openapi": "3.1.0",
            "info": {
                "title": title,
                "version": version,
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "responses": problem_responses,
                "parameters": {
                    "Lang": {
                        "name": LANG_PARAMETER, "in": "query", "required": False,
                        "description": LANG_DESCRIPTION,
                        "schema": {"type": "string", "enum": list(LANGUAGES)},
                    },
                    "IdempotencyKey": {
                        "name": "Idempotency-Key", "in": "header", "required": False,
                        "description": "Makes a retry safe: the same key with the same body returns "
                        "the first result and writes nothing; with another body it is refused (409).",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                   "pattern": IDEMPOTENCY_KEY_PATTERN},
                    },
                    "IfMatch": {
                        "name": "If-Match", "in": "header", "required": False,
                        "description": "The version (ETag) the change was decided on; a stale one is "
                        "refused with 409 and the current version.",
                        "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                    },
                },
                "securitySchemes": {
                    "bearer": {
                        "type": "http", "scheme": "bearer", "bearerFormat": "ttl_…",
                        "description": "An API token from `ttledger token create`.",
                    }
                },
            },
        }
        if description:
            doc["info"]["description"] = description
        if tags:
            doc["tags"] = [{"name": t} for t in tags]
        return doc


MEDIA_TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    # Before OpenAPI 3.2 (``itemSchema``) the schema of an event stream describes each event.
    "text/event-stream": {
        "type": "object", "description": "One server-sent event.",
        "properties": {"id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"},
                       "retry": {"type": "integer"}},
    },
}
"""The schema of a success answer's non-JSON media type (``media_types=``); others are binary strings."""


class ApiJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema, stating what the API really accepts.

    By default pydantic documents a decimal as a number or *any* string, so a
    client (or a fuzzer) that follows the document sends ``"abc"`` and gets 422;
    here the string form has the pattern of a decimal. Integers get the 64-bit
    bounds the request checks enforce (``_as_documented``).
    """

    def get_decimal_pattern(self, schema: core_schema.DecimalSchema) -> str | None:
        build = getattr(super(), "build_decimal_pattern", None)
        return build(schema) if build is not None else None

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        """Integers are 64-bit (``validation.int64_range``), unless the field is narrower."""
        out = super().int_schema(schema)
        if "minimum" not in out and "exclusiveMinimum" not in out:
            out["minimum"] = INT64_MIN
        if "maximum" not in out and "exclusiveMaximum" not in out:
            out["maximum"] = INT64_MAX
        return out


ROUTES = web.AppKey("routes", RouteRegistry)
"""The app's combined registry: ``app[ROUTES].table()`` is its role matrix."""


# ---- request parsing ------------------------------------------------------------


def _validate(model: type[BaseModel], data: Any, where: str, errors: list[dict[str, Any]]) -> Any:
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        errors.extend(validation_errors(exc, where))
        return None
    return _as_documented(model, value, data, where, errors)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""Every integer of a request fits PostgreSQL's ``bigint`` (the OpenAPI document says so too)."""
_CHECKED_MODELS: dict[type[BaseModel], bool] = {}
_UNKNOWN = object()


def _needs_check(model: type[BaseModel]) -> bool:
    known = _CHECKED_MODELS.get(model)
    if known is None:
        try:
            text = json.dumps(model.model_json_schema())
            known = '"format": "date' in text or '"type": "integer"' in text
        except Exception:  # a type without a JSON schema: check the values themselves
            known = True
        _CHECKED_MODELS[model] = known
    return known


def _as_documented(
    model: type[BaseModel], value: BaseModel, raw: Any, where: str, errors: list[dict[str, Any]]
) -> BaseModel | None:
    """Refuse what pydantic accepts but the OpenAPI document does not promise (422).

    * dates that did not arrive as ISO 8601 strings: pydantic also reads a number
      (or a string of digits) as Unix time, so ``"on": 0`` would be 1970-01-01
      (``validation.iso_date``);
    * the first and last representable days, which the database driver turns into
      ``-infinity`` and ``infinity`` (``validation.date_range``);
    * integers beyond 64 bits, which no column can hold (``validation.int64_range``).

    Walks the validated value beside the raw input.
    """
    if not _needs_check(model):
        return value
    found: list[dict[str, Any]] = []
    _walk(value, raw, (), found, where)
    errors.extend(found)
    return None if found else value


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _walk(value: Any, raw: Any, loc: tuple[int | str, ...], found: list[dict[str, Any]], where: str) -> None:
    if isinstance(value, datetime | date):
        pattern = _ISO_DATETIME if isinstance(value, datetime) else _ISO_DATE
        if raw is not _UNKNOWN and not (isinstance(raw, str) and pattern.match(raw)):
            form = "YYYY-MM-DDThh:mm:ss with a UTC offset" if isinstance(value, datetime) else "YYYY-MM-DD"
            found.append({"field": field_path(loc), "rule": "validation.iso_date",
                          "detail": f"a date is an ISO 8601 string, {form}", "in": where})
        elif not check_date_range(_day(value)):
            # One documented range for every date of a request (domain/inputs.py); it also keeps
            # away the first and last days, which the database driver reads as ±infinity.
            found.append({"field": field_path(loc), "rule": DATE_IN_RANGE.name,
                          "detail": DATE_IN_RANGE.meaning, "in": where})
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            found.append({"field": field_path(loc), "rule": "validation.int64_range",
                          "detail": f"an integer here lies between {INT64_MIN} and {INT64_MAX}", "in": where})
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            keys = [k for k in (info.validation_alias, info.alias, name) if isinstance(k, str)]
            key = next((k for k in keys if isinstance(raw, dict) and k in raw), None)
            _walk(getattr(value, name, None), _UNKNOWN if key is None else raw[key], (*loc, key or name),
                  found, where)
    elif isinstance(value, list | tuple):
        aligned = isinstance(raw, list) and len(raw) == len(value)
        for i, item in enumerate(value):
            _walk(item, raw[i] if aligned else _UNKNOWN, (*loc, i), found, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            raw_key = key.value if isinstance(key, Enum) else str(key)
            _walk(item, raw[raw_key] if isinstance(raw, dict) and raw_key in raw else _UNKNOWN,
                  (*loc, raw_key), found, where)


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(a) for a in typing.get_args(annotation) if a is not type(None))
    return origin in (list, tuple, set, frozenset)


def _query_input(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    sequences = {
        (f.alias or name)
        for name, f in model.model_fields.items()
        if _is_sequence(f.annotation)
    }
    data: dict[str, Any] = {}
    for key in dict.fromkeys(request.query.keys()):
        values = request.query.getall(key)
        data[key] = values if key in sequences or len(values) > 1 else values[0]
    return data


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise bad_request(
            "invalid-header",
            "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)",
            detail_zh="Idempotency-Key 须为 1 至 255 个可见 ASCII 字符（建议使用 UUID）",
        )
    return key


def _if_match(request: web.Request) -> int | None:
    value = request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    match = _IF_MATCH.match(value.strip())
    if not match:
        raise bad_request(
            "invalid-header", 'If-Match must be one strong ETag holding a version, like "3"',
            detail_zh='If-Match 须为一个含版本号的强 ETag，例如 "3"',
        )
    return int(match[1] or match[2])


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def _read_body(
    request: web.Request, model: type[BaseModel], errors: list[dict[str, Any]]
) -> BaseModel | None:
    if not _is_json(request.content_type):
        shown = request.headers.get("Content-Type", "none")[:80]
        raise bad_request(
            "content-type", f"send the body as application/json (Content-Type was {shown})",
            detail_zh=f"请以 application/json 发送请求体（收到的 Content-Type 为 {shown}）",
        )
    raw = await request.read()  # raises 413 over client_max_size
    if not raw.strip():
        raise bad_request("body-required", "this route needs a JSON body", detail_zh="此接口需要 JSON 请求体")
    try:
        # Strict: a JSON string is never read as a number or a boolean, a float never as an integer.
        value = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        details = exc.errors(include_url=False, include_input=False, include_context=False)
        malformed = [e for e in details if e["type"] == "json_invalid"]
        if malformed:
            raise bad_request(
                "malformed-json", f"the body is not valid JSON: {malformed[0]['msg']}",
                detail_zh=f"请求体不是有效的 JSON：{malformed[0]['msg']}",
            ) from None
        errors.extend(validation_errors(exc, "body"))
        return None
    return _as_documented(model, value, json.loads(raw) if _needs_check(model) else None, "body", errors)


# ---- responses ---------------------------------------------------------------


class ResponseModelMismatch(Exception):
    """A handler returned something its declared response model refuses (a server bug: 500)."""


def _render(spec: RouteSpec, adapter: TypeAdapter[Any] | None, result: Any,
            regulator: RegulatorView | None = None) -> web.StreamResponse:
    """The answer; a regulator's passes through its redaction (api/redaction.py), or is refused."""
    if isinstance(result, web.StreamResponse):
        if regulator is not None and not regulator.applied:
            raise ResponseModelMismatch(f"{spec.operation_id} built a regulator's answer without its redaction")
        return result
    status = spec.status
    headers: Mapping[str, str] = {}
    if isinstance(result, Reply):
        status = result.status or status
        headers = result.headers
        result = result.body
    if adapter is None:
        if result is not None:
            raise ResponseModelMismatch(f"{spec.operation_id} declares no response but returned {type(result)}")
        return web.Response(status=status, headers=headers)
    try:
        value = adapter.validate_python(result, from_attributes=True)
        payload = adapter.dump_json(value) if regulator is None else regulator.dump_json(adapter, value)
    except ValidationError as exc:
        raise ResponseModelMismatch(f"{spec.operation_id} returned a value its response model refuses") from exc
    return web.Response(body=payload, status=status, content_type="application/json", headers=headers)


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Success"


def _error_statuses(s: RouteSpec) -> set[int]:
    codes = {500, 503, 422}  # 422: every route takes the `lang` query parameter (api/language.py)
    if s.body is not None or s.query is not None or s.path_params is not None or s.idempotency_key or s.if_match:
        codes.add(400)
    if s.roles is not None:
        codes |= {401, 403, 429}
    if s.path_names:
        codes.add(404)
    if s.if_match or s.idempotency_key or s.method not in READ_ONLY_METHODS:
        codes.add(409)
    if s.body is not None:
        codes.add(413)
    if s.body is not None or s.query is not None or s.path_params is not None or s.method not in READ_ONLY_METHODS:
        codes.add(422)
    return codes


def _first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n", 1)[0].strip()


def _rest(doc: str | None) -> str:
    parts = inspect.cleandoc(doc or "").split("\n", 1)
    return parts[1].strip() if len(parts) > 1 else ""
