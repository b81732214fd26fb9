"""Every problem type has a title in English and in Chinese, and answers follow the chosen language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from aiohttp.test_utils import make_mocked_request

from api.language import LANG_KEY, from_accept_language, negotiate
from api.problems import _HTTP_KINDS, TITLES_ZH, HTTPProblem, localized_error, unprocessable

API = Path(__file__).resolve().parents[2] / "api"
HAN = re.compile(r"[\u4e00-\u9fff]")


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


# ---- every detail we raise has its Chinese ------------------------------------------------------

ROOT = API.parent
# callable name → (index of the detail argument, index of a positional Chinese detail or None)
DETAIL_ARGS: dict[str, tuple[int, int | None]] = {
    "HTTPProblem": (3, None), "forbidden": (1, None), "unauthenticated": (0, None), "bad_request": (1, None),
    "too_many_requests": (1, None), "unprocessable": (1, None), "unavailable": (0, 1), "out_of_scope": (1, 2),
    "UserError": (1, None), "PasswordRejected": (1, None), "ListQueryError": (1, 2),
}
SOURCES = [*API.rglob("*.py"), ROOT / "ledger" / "users.py", ROOT / "ledger" / "passwords.py",
           ROOT / "projections" / "lists.py", ROOT / "projections" / "record_lists.py"]


def _has_han(node: ast.AST) -> bool:
    """A literal (or f-string, or a conditional of them) holding Chinese: a bilingual ``"中文 / English"`` text."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(HAN.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_has_han(v) for v in node.values)
    if isinstance(node, ast.IfExp):
        return _has_han(node.body) and _has_han(node.orelse)
    return False


def details_without_chinese() -> list[str]:
    missing = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name not in DETAIL_ARGS or (path.name == "problems.py" and name != "HTTPProblem"):
                continue
            at, zh_at = DETAIL_ARGS[name]
            keywords = {k.arg: k.value for k in node.keywords}
            detail = node.args[at] if len(node.args) > at else keywords.get("detail")
            if detail is None or (isinstance(detail, ast.Constant) and detail.value is None):
                continue  # no detail of its own (a default that has its Chinese)
            zh = keywords.get("detail_zh") or (node.args[zh_at] if zh_at is not None and len(node.args) > zh_at
                                                else None)
            if zh is None and not _has_han(detail):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return missing


def test_every_raised_detail_has_chinese() -> None:
    missing = details_without_chinese()
    assert not missing, f"problem details without Chinese (give detail_zh=): {missing}"


def test_bilingual_texts_split_by_language() -> None:
    problem = HTTPProblem(401, "sign-in-failed", "Sign-in failed", "用户名或密码不正确 / wrong username or password")
    zh = problem.document(_request())  # type: ignore[arg-type]
    en = problem.document(_request(accept="en-GB"))  # type: ignore[arg-type]
    assert (zh["detail"], en["detail"]) == ("用户名或密码不正确", "wrong username or password")
    entry = {"field": "new_password", "rule": "password.min_length", "detail": "密码至少 12 个字符 / at least 12"}
    assert localized_error(entry, "zh")["detail"] == "密码至少 12 个字符"
    assert localized_error(entry, "en")["detail"] == "at least 12"
    with_zh = {"field": "q", "rule": "list_query_valid", "detail": "contains a NUL character", "detail_zh": "含有 NUL 字符"}
    assert localized_error(with_zh, "zh")["detail"] == "含有 NUL 字符"
    assert "detail_zh" not in localized_error(with_zh, "zh") and "detail_zh" not in localized_error(with_zh, "en")
    assert localized_error(with_zh, "en")["detail"] == "contains a NUL character"
