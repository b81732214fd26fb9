"""The language of an answer: 简体中文 (``zh``, the default) or English (``en``).

A request chooses it with ``?lang=zh|en`` (any route; it wins) or with
``Accept-Language`` (RFC 9110 §12.5.4: ``zh-CN``, ``zh-Hans``, ``en-US;q=0.8``;
the highest ``q`` of a language we have wins, ties in the order given). With
neither, or with neither naming a language we have, the answer is in Chinese:
the ledger's readers are Chinese regulators, exchanges and universities.

:func:`api.middleware.request_context` stores the choice on the request
(``LANG_KEY``); every answer, problem details included, carries
``Content-Language`` (``zh-CN`` or ``en``) and ``Vary: Accept-Language``.
Texts that exist in one language only (names recorded in the ledger, a
pydantic message) stay as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web

Lang = Literal["zh", "en"]
LANGUAGES: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
CONTENT_LANGUAGE: dict[str, str] = {"zh": "zh-CN", "en": "en"}


def _request_key(name: str, tp: type) -> Any:
    factory = getattr(web, "RequestKey", None)  # aiohttp >= 3.13; a namespaced string before it
    return factory(name, tp) if factory is not None else f"ttledger.{name}"


LANG_KEY = _request_key("lang", str)
LANG_PARAMETER = "lang"
LANG_DESCRIPTION = (
    "Language of the answer's texts (统计口径, problem titles, download headers): `zh` (简体中文, the "
    "default) or `en`. Without it `Accept-Language` decides; the answer says which in `Content-Language`."
)


def _tag(value: str) -> Lang | None:
    """``zh``, ``zh-CN``, ``zh-Hans-CN`` → ``zh``; ``en``, ``en-GB`` → ``en``; anything else → ``None``."""
    primary = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if primary in LANGUAGES else None  # type: ignore[return-value]


def from_accept_language(header: str) -> Lang | None:
    """The best language of ours in an ``Accept-Language`` header, or ``None``."""
    best: tuple[float, int, Lang] | None = None
    for index, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.partition(";")
        lang = _tag(tag)
        if lang is None:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not 0 < q <= 1:
            continue
        if best is None or (q, -index) > (best[0], -best[1]):
            best = (q, index, lang)
    return best[2] if best else None


def negotiate(request: web.Request) -> Lang:
    """``?lang=`` if it names a language of ours, else ``Accept-Language``, else Chinese."""
    asked = request.query.get(LANG_PARAMETER)
    if asked:
        lang = _tag(asked)
        if lang is not None:
            return lang
    header = request.headers.get("Accept-Language")
    if header:
        lang = from_accept_language(header)
        if lang is not None:
            return lang
    return DEFAULT_LANG


def language_of(request: web.Request) -> Lang:
    """The language chosen for this request (negotiated once, by the request middleware)."""
    chosen = request.get(LANG_KEY)
    if chosen in LANGUAGES:
        return chosen  # type: ignore[no-any-return]
    return negotiate(request)


def pick(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en
