"""Every domain rule refusal and every statistics query refusal has its detail in Chinese too.

Issue 15 ("Chinese first"): a ``require(...)`` call gives its Chinese detail as ``zh=`` (its fifth
argument), a ``DomainError(...)`` as ``detail_zh=`` (its fourth), a ``StatisticsQueryError(...)`` as
``detail_zh`` (its third), each with the same figures as the English text. The Chinese answer of a
domain error reads ``{rule.name_zh}（{field}）：{detail_zh}`` (api/problems.py). Like
tests/unit/test_problem_titles.py this reads the source with ``ast``: a new refusal without its
Chinese fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from api.language import LANG_KEY, negotiate
from api.problems import problem_for
from domain.errors import DomainError, require
from domain.rule_packs import RULE_PACK_DATA_VALID, load_packs
from domain.settlement import DUE_ITEM_OUTSTANDING, check_positive
from projections.queries import StatisticsQueryError

ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")

# callable name → (index of a positional Chinese detail, its keyword); where to look for it
CHINESE_ARGS: dict[str, tuple[int, str]] = {
    "require": (4, "zh"), "DomainError": (3, "detail_zh"), "_expect": (3, "zh"),
}
DOMAIN_SOURCES = [*(ROOT / "domain").rglob("*.py"), *(ROOT / "ledger").rglob("*.py"), *(ROOT / "api").rglob("*.py")]
QUERY_SOURCES = list((ROOT / "projections").rglob("*.py"))


def _has_han(node: ast.AST) -> bool:
    """A literal, an f-string, a conditional of them or a concatenation holding Chinese; a name or a call
    (a helper giving the Chinese, a variable set to it) is trusted only where :data:`PASSED_ON` lists it."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(HAN.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_has_han(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):  # f"{kind} {'须载明' if wanted else '不载明'}"
        return _has_han(node.value)
    if isinstance(node, ast.IfExp):
        return _has_han(node.body) and _has_han(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _has_han(node.left) or _has_han(node.right)
    return False


PASSED_ON = {
    # a Chinese detail computed elsewhere and passed on: (file, source of the argument)
    ("domain/achievement.py", "zh"),  # a local set to an f-string in Chinese just before
    ("domain/rule_packs.py", "zh"),  # _expect's own parameter, checked at each _expect call
    ("domain/distribution.py", "exc.detail_zh"),  # a percentage refusal re-raised under another rule
    ("domain/distribution.py", "_floor_message_zh(first)"),
    ("domain/encumbrance.py", "_clash_zh(old)"),
}


def _calls(paths: list[Path], names: set[str]) -> list[tuple[str, ast.Call, str]]:
    found = []
    for path in paths:
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in names:
                continue
            if name == "require" and (not isinstance(func, ast.Name) or len(node.args) < 4):
                continue  # ``users.require(user_id)`` and the like: not the domain's require
            found.append((str(path.relative_to(ROOT)), node, source))
    return found


def _chinese_missing(where: str, node: ast.Call, source: str, at: int, keyword: str) -> str | None:
    keywords = {k.arg: k.value for k in node.keywords}
    zh = node.args[at] if len(node.args) > at else keywords.get(keyword)
    if zh is not None and (_has_han(zh) or (where, ast.get_source_segment(source, zh)) in PASSED_ON):
        return None
    name = getattr(node.func, "id", getattr(node.func, "attr", "?"))
    return f"{where}:{node.lineno} {name}"


def domain_details_without_chinese() -> list[str]:
    missing = []
    for where, node, source in _calls(DOMAIN_SOURCES, set(CHINESE_ARGS)):
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        if where == "domain/errors.py":
            continue  # require itself passes its ``zh`` on
        at, keyword = CHINESE_ARGS[str(name)]
        problem = _chinese_missing(where, node, source, at, keyword)
        if problem:
            missing.append(problem)
    return missing


def query_details_without_chinese() -> list[str]:
    missing = []
    for where, node, source in _calls(QUERY_SOURCES, {"StatisticsQueryError"}):
        problem = _chinese_missing(where, node, source, 2, "detail_zh")
        if problem:
            missing.append(problem)
    return missing


def test_every_domain_refusal_has_chinese() -> None:
    calls = _calls(DOMAIN_SOURCES, set(CHINESE_ARGS))
    assert len(calls) > 250  # the scan finds the refusals
    missing = domain_details_without_chinese()
    assert not missing, f"domain refusals without a Chinese detail (give zh= / detail_zh=): {missing}"


def test_every_statistics_query_refusal_has_chinese() -> None:
    assert len(_calls(QUERY_SOURCES, {"StatisticsQueryError"})) > 15
    missing = query_details_without_chinese()
    assert not missing, f"statistics query refusals without detail_zh: {missing}"


def test_the_scan_finds_a_refusal_without_chinese() -> None:
    source = 'require(ok, R, "f", f"{x} is late")\nrequire(ok, R, "f", "late", zh=f"{x} 已逾期")\n'
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert _chinese_missing("x.py", calls[0], source, 4, "zh") == "x.py:1 require"
    assert _chinese_missing("x.py", calls[1], source, 4, "zh") is None


# ---- the Chinese detail reaches the answer ----------------------------------------------------------------


def _request(query: str = "") -> object:
    request = make_mocked_request("GET", f"/v1/x{query}")
    request[LANG_KEY] = negotiate(request)
    return request


def test_require_carries_both_texts() -> None:
    with pytest.raises(DomainError) as caught:
        require(False, DUE_ITEM_OUTSTANDING, "due_item_id", "'installment-1' is settled",
                zh="'installment-1' 已结清")
    error = caught.value
    assert (error.detail, error.detail_zh) == ("'installment-1' is settled", "'installment-1' 已结清")
    assert error.as_dict()["detail_zh"] == "'installment-1' 已结清"
    assert error.detail_in("zh") == "'installment-1' 已结清" and error.detail_in("en") == error.detail
    assert DomainError(DUE_ITEM_OUTSTANDING, "f", "english").detail_zh is None  # positional use unchanged


def test_problem_details_of_a_domain_error_in_each_language() -> None:
    error = DomainError(DUE_ITEM_OUTSTANDING, "due_item_id", "'installment-1' is settled",
                        "'installment-1' 已结清")
    problem = problem_for(error, _request())  # type: ignore[arg-type]
    assert problem is not None
    zh = problem.document(_request())  # type: ignore[arg-type]
    en = problem.document(_request("?lang=en"))  # type: ignore[arg-type]
    assert zh["detail"] == "到期款项须有未付金额（due_item_id）：'installment-1' 已结清"
    assert en["detail"] == "'installment-1' is settled"
    [zh_error], [en_error] = zh["errors"], en["errors"]
    assert zh_error["detail"] == "'installment-1' 已结清" and en_error["detail"] == "'installment-1' is settled"
    assert "detail_zh" not in zh_error and "detail_zh" not in en_error
    assert zh_error["name_zh"] == "到期款项须有未付金额" and zh_error["rule"] == "due_item_outstanding"


def test_a_real_refusal_has_the_same_figures_in_both_languages() -> None:
    with pytest.raises(DomainError) as caught:
        check_positive(-5)
    assert (caught.value.detail, caught.value.detail_zh) == ("-5 is not positive", "-5 不是正数")
    with pytest.raises(DomainError) as caught:
        load_packs({"format": 2, "packs": []})
    assert caught.value.rule is RULE_PACK_DATA_VALID
    assert (caught.value.detail, caught.value.detail_zh) == ("format must be 1", "format 须为 1")


def test_statistics_query_error_keeps_its_chinese() -> None:
    error = StatisticsQueryError("year", "'x' is not a year", "'x' 不是年份")
    assert (error.field, error.detail, error.detail_zh) == ("year", "'x' is not a year", "'x' 不是年份")
