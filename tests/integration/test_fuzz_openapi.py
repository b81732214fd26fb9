"""Fuzzing the HTTP API with schemathesis against its own OpenAPI document (issue 7, part 4).

A real ``ttledger serve`` process runs on this module's database with the
world of ``api_support.build_world`` in it. Schemathesis loads the server's
``/v1/openapi.json`` and, for every operation in it and a valid token of each
role (admin, operator, institution, regulator), generates requests from the
schema, valid ones (positive) and invalid ones (negative). Path parameters are
half the time the ids of the world's records, so valid requests reach the
handlers and the domain, not only the 404 of an unknown id.

Every response must:

* not be a 5xx (``not_a_server_error``);
* have a status the operation documents, the documented content type, a body
  that matches the documented schema and the documented headers;
* for negative data, be a 4xx (``negative_data_rejection``);
* if it is a refusal, be a problem document, and a 422 names the rule and
  the field of each error.

And every refused write (a 4xx to a ``POST``) must leave the log head where it
was: bad input writes nothing. The server runs with a short read-your-writes
wait (0.2 s); its documented 503 ``position-not-reached`` (with ``Retry-After``)
for a ``min_position`` beyond the log is the one 5xx accepted, and only when
the position asked for is indeed beyond the one reached.

CI runs a few examples per operation, role and mode (``CI_EXAMPLES``);
``--run-slow`` runs ``SLOW_EXAMPLES``; ``TTLEDGER_FUZZ_EXAMPLES=N`` sets the
number for either. Run with ``-s`` to see the figures (requests per role,
statuses, failures).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledger.bootstrap import Ledger
from tests.integration.api_support import Api, World, build_world
from tests.integration.live_server import LiveServer, live_server

CI_EXAMPLES = 3
SLOW_EXAMPLES = 50
ROLES = {"admin": "admin", "operator": "exchange", "institution": "owner", "regulator": "regulator"}
"""Role -> the world's principal whose token is used (api_support.PRINCIPALS)."""
PATH_RECORDS = {"institution_id": "U", "achievement_id": "A", "contract_id": "C", "holding_id": "H",
                "distribution_id": "D", "self_implementation_id": "S"}
STREAM_PATH = "/v1/events/stream"

POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_schema_conformance, response_headers_conformance]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


def examples(default: int) -> int:
    return int(os.environ.get("TTLEDGER_FUZZ_EXAMPLES", "0")) or default


@pytest.fixture(scope="module")
def server(migrated_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log_path = tmp_path_factory.mktemp("fuzz") / "serve.log"
    with live_server(migrated_dsn, log_path, TTLEDGER_EVENT_STREAM_HEARTBEAT="0.5",
                     TTLEDGER_READ_WAIT_TIMEOUT="0.2") as running:
        yield running


@pytest.fixture(scope="module")
async def live_world(server: LiveServer, ledger: Ledger) -> AsyncIterator[World]:
    async with aiohttp.ClientSession(base_url=server.base_url) as session:
        yield await build_world(Api(cast(Any, session)), ledger)


@dataclass
class FuzzReport:
    requests: int = 0
    per_mode: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    problem_types: Counter[str] = field(default_factory=Counter)
    """The problems answered, by the last part of their type (a rule name, or a kind like not-found)."""
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(operation, mode, what failed) -> the first report of it (with a curl command to reproduce)."""
    generation_errors: dict[str, str] = field(default_factory=dict)

    def fail(self, operation: str, mode: str, what: str, message: str) -> None:
        self.failures.setdefault((operation, mode, what), message[:3000])

    def summary(self, role: str, seconds: float) -> str:
        statuses = "; ".join(
            f"{mode} " + ", ".join(f"{s}: {n}" for (m, s), n in sorted(self.statuses.items()) if m == mode)
            for mode in sorted(self.per_mode))
        return (f"fuzz {role}: {self.requests} requests ({dict(self.per_mode)}) over "
                f"{len(self.operations)} operations in {seconds:.0f} s; statuses {statuses}; "
                f"{len(self.problem_types)} distinct problem types; "
                f"{len(self.failures)} distinct failures; {len(self.generation_errors)} generation errors")


def _head(session: requests.Session, base_url: str) -> int:
    return int(session.get(f"{base_url}/readyz", timeout=30).json()["log_head"])


def fuzz_role(server: LiveServer, world: World, role: str, n: int) -> FuzzReport:
    """Every operation of the served document, ``n`` positive and ``n`` negative examples each."""
    base = server.base_url
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json")
    # NUL characters in generated strings (schemathesis' default, stated so it stays on): every one
    # must be refused by the rule that names it, never reach the log (issue 21).
    schema.config.generation.update(allow_x00=True, codec="utf-8")
    assert schema.config.generation.allow_x00
    auth = {"Authorization": f"Bearer {world.tokens[ROLES[role]]}"}
    session = requests.Session()
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        report.operations.add(label)
        names = [p.name for p in operation.path_parameters]
        known = {name: world[PATH_RECORDS[name]] for name in names if name in PATH_RECORDS}
        timeout = 3 if operation.path == STREAM_PATH else 60
        writes = operation.method.upper() != "GET"
        raw = schema.raw_schema["paths"][operation.path][operation.method.lower()]
        modes = [GenerationMode.POSITIVE]
        if raw.get("parameters") or raw.get("requestBody"):  # otherwise nothing can be invalid
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(mode, headers=auth)
            if known:
                strategy = st.one_of(operation.as_strategy(mode, headers=auth, path_parameters=known), strategy)
            checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
            run = _runner(report, session, base, label, str(mode), checks, timeout, writes)
            test = settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
                            suppress_health_check=list(HealthCheck))(given(case=strategy)(run))
            try:
                test()
            except HypothesisException as exc:  # the schema gave nothing to generate (not the API's fault)
                report.generation_errors[f"{label} {mode}"] = repr(exc)[:300]
    return report


def _runner(report: FuzzReport, session: requests.Session, base: str, label: str, mode: str,
            checks: list[Any], timeout: float, writes: bool) -> Callable[[schemathesis.Case], None]:
    def run(case: schemathesis.Case) -> None:
        before = _head(session, base) if writes else None
        try:
            response = case.call(base_url=base, session=session, timeout=timeout)
        except requests.RequestException as exc:
            report.fail(label, mode, f"request failed: {type(exc).__name__}", repr(exc))
            return
        report.requests += 1
        report.per_mode[mode] += 1
        report.statuses[(mode, response.status_code)] += 1
        if response.status_code >= 400:
            _check_problem(report, label, mode, response)
        try:
            case.validate_response(response, checks=_checks_for(case, response, checks))
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            what = ", ".join(sorted({type(f).__name__ for f in failures}))
            report.fail(label, mode, f"{response.status_code}: {what}", str(exc))
        if before is not None and response.status_code >= 400:
            after = _head(session, base)
            if after != before:
                report.fail(label, mode, "refused write moved the log head",
                            f"{response.status_code} but the head went {before} -> {after}: "
                            f"{case.as_curl_command()}")

    return run


def _check_problem(report: FuzzReport, label: str, mode: str, response: schemathesis.Response) -> None:
    """A refusal names what was wrong: a problem type, and for 422 the rule and field of each error."""
    try:
        doc = json.loads(response.content)
    except ValueError:
        report.fail(label, mode, f"{response.status_code}: not JSON", response.content[:300].decode(errors="replace"))
        return
    kind = str(doc.get("type", "")).rsplit("/", 1)[-1]
    report.problem_types[kind] += 1
    errors = doc.get("errors")
    if response.status_code == 422 and not (
        errors and all(isinstance(e, dict) and e.get("rule") and "field" in e for e in errors)
    ):
        report.fail(label, mode, "422 without rule and field", json.dumps(doc, ensure_ascii=False)[:1000])


def _waited_for_the_future(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """The documented 503 of read-your-writes: ``min_position`` beyond what the server has reached."""
    asked = (case.query or {}).get("min_position")
    if response.status_code != 503 or not isinstance(asked, int) or not response.headers.get("retry-after"):
        return False
    try:
        doc = json.loads(response.content)
    except ValueError:
        return False
    return (doc.get("type") == "https://ttledger.dev/problems/position-not-reached"
            and doc.get("min_position") == asked and int(doc.get("position", asked)) < asked)


def _checks_for(case: schemathesis.Case, response: schemathesis.Response, checks: list[Any]) -> list[Any]:
    if _waited_for_the_future(case, response):
        return [c for c in checks if c is not not_a_server_error]
    return checks


def check_role(server: LiveServer, world: World, role: str, n: int) -> None:
    started = time.monotonic()
    report = fuzz_role(server, world, role, n)
    print("\n" + report.summary(role, time.monotonic() - started))
    for (operation, mode, what), message in sorted(report.failures.items()):
        print(f"--- {operation} [{mode}] {what}\n{message}\n")
    for what, message in sorted(report.generation_errors.items()):
        print(f"--- cannot generate {what}: {message}")
    expected = sum(len(v) for v in schemathesis.openapi.from_url(
        f"{server.base_url}/v1/openapi.json").raw_schema["paths"].values())
    assert len(report.operations) == expected
    assert report.failures == {}
    assert report.generation_errors == {}
    assert report.per_mode["positive"] >= len(report.operations)  # at least one request per operation
    unhandled = [e for e in server.log_events() if e.get("event") in ("unhandled_error", "problem_mapping_failed")]
    assert unhandled == []


@pytest.mark.parametrize("role", sorted(ROLES))
def test_fuzz_every_operation(server: LiveServer, live_world: World, role: str) -> None:
    check_role(server, live_world, role, examples(CI_EXAMPLES))


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(ROLES))
def test_fuzz_every_operation_many_examples(server: LiveServer, live_world: World, role: str) -> None:
    check_role(server, live_world, role, examples(SLOW_EXAMPLES))


def test_served_document_is_the_registry(server: LiveServer) -> None:
    """Schemathesis fuzzes what the server serves, and that covers every route declared in the schema."""
    from api.app import ROUTE_MODULES
    from api.routing import RouteRegistry

    registry = RouteRegistry()
    for module in ROUTE_MODULES:
        registry.include(module)
    declared = {(s.method.lower(), s.openapi_path) for s in registry.routes if s.include_in_schema}
    served = requests.get(f"{server.base_url}/v1/openapi.json", timeout=30).json()
    assert {(m, p) for p, ops in served["paths"].items() for m in ops} == declared
