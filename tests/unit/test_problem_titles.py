"""Every problem type has a title in English and in Chinese, and answers follow the chosen language."""

from __future__ import annotations

import ast
from pathlib import Path

from aiohttp.test_utils import make_mocked_request

from api.language import LANG_KEY, from_accept_language, negotiate
from api.problems import _HTTP_KINDS, TITLES_ZH, HTTPProblem, localized_error, unprocessable

API = Path(__file__).resolve().parents[2] / "api"


def raised_titles() -> set[str]:
    """The literal title of every ``HTTPProblem(status, kind, title, ...)`` in api/."""
    found: set[str] = set()
    for path in API.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name == "HTTPProblem" and len(node.args) >= 3:
                title = node.args[2]
                if isinstance(title, ast.Constant) and isinstance(title.value, str):
                    found.add(title.value)
    return found


def test_every_problem_title_has_chinese() -> None:
    titles = raised_titles() | {title for _, title in _HTTP_KINDS.values()}
    assert len(titles) > 15
    missing = sorted(t for t in titles if not TITLES_ZH.get(t, "").strip())
    assert not missing, f"problem titles without Chinese (add them to TITLES_ZH in api/problems.py): {missing}"
    assert all(english.strip() for english in titles)


def _request(query: str = "", accept: str | None = None) -> object:
    headers = {"Accept-Language": accept} if accept else {}
    request = make_mocked_request("GET", f"/v1/x{query}", headers=headers)
    request[LANG_KEY] = negotiate(request)
    return request


def test_negotiation() -> None:
    assert negotiate(make_mocked_request("GET", "/")) == "zh"  # Chinese first
    assert negotiate(make_mocked_request("GET", "/?lang=en", headers={"Accept-Language": "zh"})) == "en"
    assert negotiate(make_mocked_request("GET", "/", headers={"Accept-Language": "en-US,en;q=0.9"})) == "en"
    assert from_accept_language("fr-FR, en;q=0.5, zh-CN;q=0.8") == "zh"
    assert from_accept_language("zh-Hant;q=0, en") == "en"
    assert from_accept_language("de, fr") is None


def test_problem_document_follows_the_language() -> None:
    problem = unprocessable([{"field": "amount_fen", "rule": "money_whole_fen", "detail": "a float"}])
    zh = problem.document(_request())  # type: ignore[arg-type]
    en = problem.document(_request("?lang=en"))  # type: ignore[arg-type]
    assert (zh["title"], en["title"]) == ("请求未通过校验", "The request is not valid")
    assert "未通过校验" in zh["detail"] and "failed validation" in en["detail"]
    [zh_error], [en_error] = zh["errors"], en["errors"]
    assert zh_error["meaning"].startswith("金额为整数分") and en_error["meaning"].startswith("Money is")
    assert zh_error["name_zh"] == en_error["name_zh"] == "金额须为整数分"
    assert zh_error["detail"] == "a float"  # the occurrence's own text is kept


def test_unknown_rules_pass_unchanged() -> None:
    entry = {"field": "x", "rule": "validation.missing", "detail": "Field required"}
    assert localized_error(entry, "zh") == entry
    assert HTTPProblem(404, "not-found", "Not found").title_in("zh") == "未找到"
