"""Nothing a client sends can corrupt the log or stop the read side (issue 21).

First the findings of a hostile client, each with the exact answer it now
gets; then a property test that sends, to every write route, its valid body
with one value replaced by something hostile: arbitrary Unicode (NUL, lone
surrogates, 1 MB strings), numbers as strings, booleans, floats or integers
beyond 64 bits, and hostile keys. Every answer must be 2xx or a 4xx
problem+json; afterwards every projection applies the whole log and the hash
chain verifies.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.problems import PROBLEM_CONTENT_TYPE
from ledger.bootstrap import Ledger
from ledger.serialisation import default_mapper
from ledger.verify import verify_log
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from tests.integration.api_support import Api, World, problem
from tests.integration.test_api_access import bodies, url_of

CI_CASES = 300
"""Hostile requests in CI (``TTLEDGER_HOSTILE_CASES`` sets another number)."""


def _rules(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in doc["errors"]]


async def _refused(api: Api, path: str, body: Any, who: str = "owner", *, raw: bytes | None = None,
                   lang: str = "en") -> dict[str, Any]:
    """POST, expect a 422 that writes nothing; return the problem (in English unless ``lang`` says otherwise:
    the details compared here are the English ones)."""
    head = await api.head()
    headers = {"Accept-Language": lang}
    if raw is None:
        response = await api.post(path, body, who=who, **headers)
    else:
        response = await api.client.post(path, data=raw, headers=api.headers(
            who, **{"Content-Type": "application/json", **headers}))
    doc = await problem(response, 422)
    assert await api.head() == head
    return doc


# ---- the findings -----------------------------------------------------------------------------------


async def test_a_nul_in_an_institution_name_is_refused(api: Api, world: World) -> None:
    doc = await _refused(api, f"/v1/institutions/{world['U']}/name", {"name": "清华\x00大学"})
    assert _rules(doc) == [("name", "text_no_control_characters")]
    assert doc["errors"][0]["detail"] == "text holds the character U+0000 at index 2; this field is one line"
    # In Chinese (the default), the rule's Chinese name and meaning.
    doc = await _refused(api, f"/v1/institutions/{world['U']}/name", {"name": "清华\x00大学"}, lang="zh")
    assert doc["errors"][0]["detail"] == "文本不得含控制字符：文本含字符 U+0000（第 2 位）；此项只能一行"


async def test_a_nul_in_an_inventor_name_is_refused(api: Api, world: World) -> None:
    body = {"title": "一种新型传感器", "ip_type": "invention_patent", "technology_field": "electronic_information",
            "owners": [{"institution_id": world["U"], "share": "100"}],
            "inventors": [{"name": "张\x00三", "share": "100"}], "registered_on": "2024-01-02"}
    doc = await _refused(api, "/v1/achievements", body)
    assert _rules(doc) == [("inventors[0].name", "text_no_control_characters")]


async def test_a_nul_in_a_payment_id_is_a_422_not_a_500(api: Api, world: World) -> None:
    body = {"payment_id": "P\x001", "amount_fen": 100, "received_on": "2025-05-01"}
    doc = await _refused(api, f"/v1/contracts/{world['C']}/payments", body)
    assert _rules(doc) == [("payment_id", "identifier_format")]


async def test_money_fields_take_only_whole_fen(api: Api, world: World) -> None:
    path = f"/v1/contracts/{world['C']}/payments"
    for amount in ('"100"', "true", "1e3", "100.0", "null", '"1e3"'):
        raw = ('{"payment_id": "P-x", "amount_fen": ' + amount + ', "received_on": "2025-05-01"}').encode()
        doc = await _refused(api, path, None, raw=raw)
        assert _rules(doc) == [("amount_fen", "money_whole_fen")], amount
    doc = await _refused(api, path, {"payment_id": "P-x", "amount_fen": 10**15, "received_on": "2025-05-01"})
    assert _rules(doc) == [("amount_fen", "money_in_range")]


async def test_lengths_are_limited(api: Api, world: World) -> None:
    doc = await _refused(api, f"/v1/institutions/{world['U']}/name", {"name": "x" * 900_000})
    assert _rules(doc) == [("name", "text_length")]
    assert doc["errors"][0]["detail"] == "at most 200 characters (this one has 900000)"
    doc = await _refused(api, f"/v1/institutions/{world['U']}/name", {"name": "x" * 900_000}, lang="zh")
    assert doc["errors"][0]["detail"].endswith("：至多 200 个字符（此处 900000 个）")
    doc = await _refused(api, f"/v1/contracts/{world['C']}/payments",
                         {"payment_id": "P" * 100_000, "amount_fen": 100, "received_on": "2025-05-01"})
    assert _rules(doc) == [("payment_id", "identifier_format")]


async def test_lone_surrogates_are_malformed_json(api: Api, world: World) -> None:
    head = await api.head()
    raw = b'{"name": "\\ud800 university"}'
    response = await api.client.post(f"/v1/institutions/{world['U']}/name", data=raw,
                                     headers=api.headers("owner", **{"Content-Type": "application/json"}))
    doc = await problem(response, 400)
    assert doc["type"] == "https://ttledger.dev/problems/malformed-json"
    assert await api.head() == head


async def test_text_is_stored_normalised(api: Api, world: World, ledger: Ledger) -> None:
    await api.ok(f"/v1/institutions/{world['U']}/name", {"name": "  Unive\u0301rsite\u0301 示范大学 "}, who="owner")
    view = await api.read(f"/v1/institutions/{world['U']}", who="owner")
    assert view["name"] == "Univérsité 示范大学"
    assert view["name"] == "Univ\u00e9rsit\u00e9 示范大学"


# ---- every write route, hostile values ---------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.text(st.characters(codec=None, categories=("Cc", "Cs", "Cf", "Zl", "Zp", "Co", "Cn", "Lo", "So")),
            max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\ufffe", "\u202e", "\r\n", "\x1b[31m",
                     "x" * 1_000_000, "张" * 300_000]),
)
HOSTILE_NUMBER = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, 1e3, 0.5, -0.0, 1e308, True, False, "100", "1e3", "NaN"]),
    st.floats(allow_nan=True, allow_infinity=True),
)
HOSTILE = st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER, st.none(), st.just([]), st.just({}))


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], bool]]:
    """Every place a value sits (and every dict key, flagged True) in a JSON body."""
    out: list[tuple[tuple[Any, ...], bool]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append(((*path, key), True))
            out.extend(_leaves(item, (*path, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_leaves(item, (*path, i)))
    if path:
        out.append((path, False))
    return out


def _replace(body: Any, path: tuple[Any, ...], is_key: bool, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        copy = dict(body)
        if not rest and is_key:
            item = copy.pop(head)
            copy[new if isinstance(new, str) else json.dumps(new)] = item
        else:
            copy[head] = _replace(copy[head], rest, is_key, new)
        return copy
    copy_list = list(body)
    copy_list[head] = _replace(copy_list[head], rest, is_key, new)
    return copy_list


def _hostile_cases(world: World, n: int) -> list[tuple[str, str, bytes]]:
    """``n`` requests: a write route, its URL and a JSON body holding one hostile value."""
    writes = sorted(bodies(world).items())
    cases: list[tuple[str, str, bytes]] = []

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        (_, path), body = data.draw(st.sampled_from(writes))
        places = _leaves(body)
        if places:
            place, is_key = data.draw(st.sampled_from(places))
            body = _replace(body, place, is_key, data.draw(HOSTILE_TEXT if is_key else HOSTILE))
        # ensure_ascii writes lone surrogates as \\ud800 escapes, as a hostile client would send them.
        cases.append((path, url_of(path, world), json.dumps(body, ensure_ascii=True, allow_nan=True).encode()))

    collect()
    return cases


async def test_no_hostile_body_is_a_server_error_or_stops_a_projection(
        api: Api, world: World, ledger: Ledger) -> None:
    cases = _hostile_cases(world, int(os.environ.get("TTLEDGER_HOSTILE_CASES", "0")) or CI_CASES)
    statuses: dict[int, int] = {}
    bad: list[tuple[str, int, str]] = []
    for path, url, raw in cases:
        for who in ("admin", "owner"):
            head = await api.head()
            response = await api.client.post(url, data=raw, headers=api.headers(who, **{
                "Content-Type": "application/json"}))
            text = await response.text()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status >= 500:
                bad.append((path, response.status, text[:300]))
            elif response.status >= 400:
                if response.content_type != PROBLEM_CONTENT_TYPE:
                    bad.append((path, response.status, "not problem+json"))
                elif response.status == 422 and not all(e.get("rule") and "field" in e
                                                        for e in json.loads(text).get("errors", [{}])):
                    bad.append((path, response.status, "422 without rule and field"))
                if await api.head() != head:
                    bad.append((path, response.status, "a refused write moved the log head"))
    assert bad == []
    assert statuses.get(422, 0) > len(cases) // 2, statuses  # most are refused by the vocabulary
    runner = ProjectionRunner(ledger.store, default_mapper(), all_projections())
    await runner.setup()
    await runner.catch_up()
    assert runner.failures() == {}
    assert {p.name: runner.position(p.name) for p in runner.projections} == {
        p.name: await api.head() for p in runner.projections}
    async with ledger.store.pool.acquire() as conn:
        report = await verify_log(conn)
    assert report.ok and report.events_checked == await api.head()
