"""One vocabulary of input types (ARCHITECTURE.md decision 12).

Every value a client sends — a command field, a query parameter, and later a
form field or an import column — has one of these types, so a rule about what
the ledger accepts is written once and documented once (docs/api.md, "Input
types"). Each rejection names a rule of the ``input`` group in docs/rules.md
and the field it concerns; nothing is written.

* **Money** is an integer number of fen: never a string, a boolean or a float
  (JSON ``1e3`` is a float), and within ±``MAX_FEN`` so that a running
  balance of ``bigint`` holds tens of thousands of the largest amounts.
* **Text**, by kind (name, title, label, note, ...), each with a maximum
  length in characters: no NUL or other control character (a line break only
  in multi-line kinds), no lone surrogate or non-character; NFC-normalised and
  trimmed before it is measured. Whether a text may be blank is the domain's
  rule, which names itself.
* **Identifiers a client chooses** (payment, receipt, claim, ... numbers):
  1–64 visible ASCII characters from a documented set, so a person's name in
  Chinese cannot ride along in an id, and ids sort and compare bytewise.
* **Official numbers** (registration, patent, listing numbers) keep letters of
  any script but no spaces at the ends and no control characters.
* **Counts, years, days and shares** are integers within stated bounds;
  **percentages** are decimals within 0–100 with at most 6 places.
* **Dates** lie between ``FIRST_DATE`` and ``LAST_DATE``.
* **Lists** hold at most a stated number of items.
* **Region codes** are GB/T 2260 codes; the domain checks province and city.

pydantic reads these annotations; the dataclasses of the domain carry them
as plain metadata and stay usable without it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from domain.errors import Rule, rule

G = "input"

MAX_FEN = 10**14
"""1,000,000,000,000.00 yuan (1万亿元): above any single amount in the sources (DOMAIN.md)."""
MAX_SHARES = 10**15
MAX_COUNT = 10**9
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2199, 12, 31)
MAX_ITEMS = 200
"""The default maximum length of a list in a request."""

MONEY_WHOLE_FEN = rule(
    "money_whole_fen",
    "Money is an integer number of fen: never a string, a boolean or a float (JSON 1e3 is a float).",
    group=G,
)
MONEY_IN_RANGE = rule(
    "money_in_range",
    f"An amount lies between −{MAX_FEN} and {MAX_FEN} fen (1万亿元), so no balance can overflow.",
    group=G,
)
WHOLE_NUMBER = rule(
    "whole_number",
    "Counts, years, days and shares are JSON integers: never a string, a boolean or a float.",
    group=G,
)
NUMBER_IN_RANGE = rule(
    "number_in_range",
    "A count, year, number of days or number of shares lies within the bounds its field documents.",
    group=G,
)
PERCENT_IN_RANGE = rule(
    "percent_in_range",
    "A percentage or share is a finite decimal from 0 to 100 with at most 6 decimal places, and a rate "
    "one from 0 to 1 with at most 8; a number or a decimal string, never a boolean.",
    group=G,
)
TEXT_IS_STRING = rule("text_is_string", "Text is a JSON string.", group=G)
TEXT_NO_CONTROL_CHARACTERS = rule(
    "text_no_control_characters",
    "Text holds no NUL, no other control character, no lone surrogate and no non-character; "
    "line breaks only where the field is multi-line.",
    group=G,
)
TEXT_LENGTH = rule(
    "text_length",
    "Text, NFC-normalised and trimmed, is no longer than its kind allows (name 200, title 500, "
    "label 100, note 4000 characters).",
    group=G,
)
IDENTIFIER_FORMAT = rule(
    "identifier_format",
    "An identifier chosen by a client is 1 to 64 characters: ASCII letters, digits and . _ : / # -, "
    "starting with a letter or digit.",
    group=G,
)
OFFICIAL_NUMBER_FORMAT = rule(
    "official_number_format",
    "An official number (registration, patent, listing) is 1 to 64 letters, digits, spaces and "
    "- . / : # ( ) （ ）, starting with a letter or digit.",
    group=G,
)
DATE_IN_RANGE = rule(
    "date_in_range",
    f"A date lies between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}.",
    group=G,
)
LIST_LENGTH = rule("list_length", f"A list holds at most its documented number of items ({MAX_ITEMS} unless stated).", group=G)
REGION_CODE_FORMAT = rule(
    "region_code_format",
    "A region is a GB/T 2260 administrative division code: six digits whose first two name a province.",
    source="GB/T 2260",
    group=G,
)
CURRENCY_CODE_FORMAT = rule(
    "currency_code_format", "A currency is three capital letters (ISO 4217).", source="ISO 4217", group=G
)

INPUT_RULES: tuple[Rule, ...] = (
    MONEY_WHOLE_FEN, MONEY_IN_RANGE, WHOLE_NUMBER, NUMBER_IN_RANGE, PERCENT_IN_RANGE, TEXT_IS_STRING,
    TEXT_NO_CONTROL_CHARACTERS, TEXT_LENGTH, IDENTIFIER_FORMAT, OFFICIAL_NUMBER_FORMAT, DATE_IN_RANGE,
    LIST_LENGTH, REGION_CODE_FORMAT, CURRENCY_CODE_FORMAT,
)


def refuse(broken: Rule, message: str, zh: str | None = None) -> PydanticCustomError:
    """The validation error of ``broken``: its type is the rule's name, so the API reports it as is;
    ``zh`` says the same in Chinese, with the same figures (api/problems.py shows it in Chinese answers)."""
    return PydanticCustomError(broken.name, message, {"zh": zh} if zh else None)


_UNITS_ZH = {"fen": "分", "shares": "股", "days": "天", "years": "年", "": ""}


# ---- numbers --------------------------------------------------------------------------


def _whole(broken: Rule, what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # bool is an int in Python: refuse it by type, before pydantic would read True as 1.
        if type(value) is not int:
            raise refuse(broken, f"{what} is a JSON integer, not {type(value).__name__}",
                         f"须为 JSON 整数，不能是 {type(value).__name__}")
        return value

    return check


def _bounded(broken: Rule, low: int, high: int, unit: str) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise refuse(broken, f"must lie between {low} and {high} {unit}",
                         f"须在 {low} 与 {high} {_UNITS_ZH.get(unit, unit)}之间")
        return value

    return check


def _integer(broken_type: Rule, broken_range: Rule, low: int, high: int, unit: str, what: str) -> Any:
    return Annotated[
        int,
        BeforeValidator(_whole(broken_type, what)),
        AfterValidator(_bounded(broken_range, low, high, unit)),
        WithJsonSchema({"type": "integer", "minimum": low, "maximum": high}),
    ]


Fen = _integer(MONEY_WHOLE_FEN, MONEY_IN_RANGE, -MAX_FEN, MAX_FEN, "fen", "money")
"""An amount in fen. Signs are the domain's business (it names rules such as ``payment_amount_positive``)."""
Shares = _integer(WHOLE_NUMBER, NUMBER_IN_RANGE, 0, MAX_SHARES, "shares", "a number of shares")
Count = _integer(WHOLE_NUMBER, NUMBER_IN_RANGE, 0, MAX_COUNT, "", "a count")
Days = _integer(WHOLE_NUMBER, NUMBER_IN_RANGE, 0, 36_600, "days", "a number of days")
Years = _integer(WHOLE_NUMBER, NUMBER_IN_RANGE, 0, 100, "years", "a number of years")
ContractYear = _integer(WHOLE_NUMBER, NUMBER_IN_RANGE, 1, 100, "", "a contract year")
CalendarYear = _integer(WHOLE_NUMBER, NUMBER_IN_RANGE, FIRST_DATE.year, LAST_DATE.year, "", "a year")


_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _percent(value: Any) -> Any:
    # Converted here, not by pydantic: requests are validated strictly, and a strict Decimal
    # takes only Decimal instances once a validator function stands before it.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise refuse(PERCENT_IN_RANGE, "a percentage is a number or a decimal string", "百分比须为数字或十进制数字文本")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value.strip()):
        raise refuse(PERCENT_IN_RANGE, "a percentage is a number or a decimal string")
    # A JSON float's shortest repr is the number the client wrote (0.1, not 0.1000000000000000055).
    return Decimal(repr(value) if isinstance(value, float) else str(value).strip())


def _decimal_range(low: int, high: int, places: int) -> Callable[[Decimal], Decimal]:
    def check(value: Decimal) -> Decimal:
        if not value.is_finite() or not low <= value <= high:
            raise refuse(PERCENT_IN_RANGE, f"lies between {low} and {high}", f"须在 {low} 与 {high} 之间")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            raise refuse(PERCENT_IN_RANGE, f"at most {places} decimal places", f"至多 {places} 位小数")
        return value

    return check


def _decimal(low: int, high: int, places: int) -> Any:
    whole = r"\d{1," + str(len(str(high))) + "}"
    return Annotated[
        Decimal, BeforeValidator(_percent), AfterValidator(_decimal_range(low, high, places)),
        WithJsonSchema({"anyOf": [{"type": "number", "minimum": low, "maximum": high},
                                  {"type": "string", "pattern": rf"^{whole}(\.\d{{1,{places}}})?$"}]}),
    ]


Percent = _decimal(0, 100, 6)
"""A percentage or share, 0–100 (``70`` is 70%)."""
Fraction = _decimal(0, 1, 8)
"""A rate as a fraction, 0–1 (``0.05`` is 5%)."""


# ---- text -----------------------------------------------------------------------------

# Cc (C0, DEL, C1) and the line and paragraph separators; surrogates; non-characters.
_SINGLE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def clean_text(value: str, max_length: int, *, multi_line: bool = False) -> str:
    """Refuse what no column should hold, then normalise: NFC, ``\\r\\n`` as ``\\n``, trimmed."""
    forbidden = _MULTI_LINE_FORBIDDEN if multi_line else _SINGLE_LINE_FORBIDDEN
    found = forbidden.search(value)
    if found is not None:
        raise refuse(
            TEXT_NO_CONTROL_CHARACTERS,
            f"text holds the character U+{ord(found.group()):04X} at index {found.start()}"
            + ("" if multi_line else "; this field is one line"),
            f"文本含字符 U+{ord(found.group()):04X}（第 {found.start()} 位）" + ("" if multi_line else "；此项只能一行"),
        )
    if multi_line:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > max_length:
        raise refuse(TEXT_LENGTH, f"at most {max_length} characters (this one has {len(value)})",
                     f"至多 {max_length} 个字符（此处 {len(value)} 个）")
    return value


def _string(value: Any) -> Any:
    if not isinstance(value, str):
        raise refuse(TEXT_IS_STRING, f"text is a JSON string, not {type(value).__name__}",
                     f"须为 JSON 文本，不能是 {type(value).__name__}")
    return value


def text(max_length: int, *, multi_line: bool = False, description: str = "", in_url: bool = False) -> Any:
    """A text kind: at most ``max_length`` characters after NFC and trimming.

    ``in_url``: a query parameter. Its limit is stated in the description only: as a
    ``maxLength`` it invites clients (and fuzzers) to send longer ones, which the HTTP
    server refuses as an over-long request line before the API can name the field.
    """
    schema: dict[str, Any] = {"type": "string"} if in_url else {"type": "string", "maxLength": max_length}
    if description:
        schema["description"] = description
    return Annotated[
        str,
        BeforeValidator(_string),
        AfterValidator(lambda v: clean_text(v, max_length, multi_line=multi_line)),
        WithJsonSchema(schema),
    ]


Name = text(200, description="A name of a person or organisation, one line, at most 200 characters.")
Title = text(500, description="A title, one line, at most 500 characters.")
Label = text(100, description="A short label (stage, outcome, version), one line, at most 100 characters.")
Note = text(4000, multi_line=True, description="A reason, description or note; line breaks allowed; at most 4000 characters.")
LineKey = text(220, description="A distribution line: a beneficiary, or `inventor:<name>`.")
QueryText = text(1000, in_url=True, description="One line, at most 1000 characters.")
DueItemRef = text(200, description="A due item of the contract, as the contract view names it (e.g. `installment-2`).")


def _pattern(broken: Rule, pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise refuse(broken, f"{what}: {broken.meaning}")
        return value

    return check


IDENTIFIER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}"
Identifier = Annotated[
    str,
    BeforeValidator(_string),
    AfterValidator(_pattern(IDENTIFIER_FORMAT, IDENTIFIER_PATTERN, "not an identifier")),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{IDENTIFIER_PATTERN}$",
                    "description": "An identifier you choose (payment, receipt, claim number): "
                    "1–64 ASCII letters, digits and . _ : / # -."}),
]
OFFICIAL_NUMBER_PATTERN = r"[^\W_](?:[\w .:/#()（）-]{0,62}[\w)）])?"
def _unpadded(broken: Rule, what: str) -> Callable[[str], str]:
    """A number an authority issued is sent as issued: its documented pattern has no room for spaces
    around it, so none are trimmed away silently (a fuzzer found a padded one accepted)."""
    def check(value: str) -> str:
        if value != value.strip():
            raise refuse(broken, f"{what}: spaces before or after it; {broken.meaning}", "前后不能有空格")
        return value

    return check


OfficialNumber = Annotated[
    str,
    BeforeValidator(_string),
    AfterValidator(_unpadded(OFFICIAL_NUMBER_FORMAT, "not an official number")),
    AfterValidator(lambda v: clean_text(v, 64)),
    AfterValidator(_pattern(OFFICIAL_NUMBER_FORMAT, OFFICIAL_NUMBER_PATTERN, "not an official number")),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{OFFICIAL_NUMBER_PATTERN}$",
                    "description": "An official number (contract registration, patent, listing)."}),
]
REGION_CODE_PATTERN = r"(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])\d{4}"
RegionCode = Annotated[
    str,
    BeforeValidator(_string),
    AfterValidator(_pattern(REGION_CODE_FORMAT, REGION_CODE_PATTERN, "not a GB/T 2260 code")),
    WithJsonSchema({"type": "string", "pattern": f"^{REGION_CODE_PATTERN}$",
                    "description": "A GB/T 2260 administrative division code, e.g. 110000 (北京市)."}),
]
CurrencyCode = Annotated[
    str,
    BeforeValidator(_string),
    AfterValidator(_pattern(CURRENCY_CODE_FORMAT, r"[A-Z]{3}", "not a currency code")),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217, e.g. CNY."}),
]


# ---- dates and lists --------------------------------------------------------------------


def _in_date_range(value: date) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise refuse(DATE_IN_RANGE, f"a date lies between {FIRST_DATE} and {LAST_DATE}",
                     f"日期须在 {FIRST_DATE} 与 {LAST_DATE} 之间")
    return value


BusinessDate = Annotated[date, AfterValidator(_in_date_range)]


def check_date_range(value: date) -> bool:
    """Whether ``value`` lies in the documented range (for checks outside pydantic)."""
    return FIRST_DATE <= value <= LAST_DATE


def items(max_items: int = MAX_ITEMS) -> Any:
    """Metadata for a list field: at most ``max_items`` items (``Annotated[list[X], items(50)]``)."""
    return Field(max_length=max_items)
