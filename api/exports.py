"""Downloads: statistics tables and reports as CSV or XLSX (``?format=csv|xlsx`` on their routes).

A figure becomes one or more :class:`Table` s (``api/export_tables.py``);
this module renders them. Money stays exact all the way: the read side
gives integer fen, a cell gets ``Decimal(fen) / 100`` (never a float
computed here), CSV writes it as text with two decimals (``1800000.00``) and
XLSX as a number with the format ``#,##0.00`` (openpyxl writes a Decimal's
digits; an amount of at most 2 decimals and 15 significant digits is held
exactly by Excel's number).

Every download carries the figure's statistical definition (统计口径): in
CSV as ``统计口径,<key>,<text>`` rows after a blank line below the table (as
the report CSVs of ``projections/reports.py`` do), in XLSX as a sheet of its
own. Headers, sheet names and labels are in the request's language (``api/language.py``):
Chinese by default (``合同成交额（元）``, sheet ``技术合同成交额``), English with ``lang=en``
(``contract value``, sheet ``contract_value``). A builder gives both texts (:class:`Column`,
:class:`Text`, ``Table.sheet_zh``); :func:`download` picks one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from aiohttp import web

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
DEFINITION_SHEET = {"zh": "统计口径", "en": "definition"}
DEFINITION_LABEL = {"zh": "统计口径", "en": "definition"}
DEFINITION_HEADER = {"zh": ["统计口径", "内容"], "en": ["definition", "text"]}
SHEET_NAME_LIMIT = 31  # Excel's limit

Kind = Literal["text", "count", "yuan", "percent", "date", "bool", "auto"]
"""``auto``: the value as given (a Decimal amount in yuan, an int count, text), typed per cell."""


class ExportFormat(StrEnum):
    """``format`` of a statistics or report route: the JSON figures, or a download."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"


@dataclass(frozen=True)
class Text:
    """A cell's text in both languages (a totals row's label, a unit); the download picks one."""

    zh: str
    en: str

    def in_(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


TOTAL_LABEL = Text("合计", "total")


@dataclass(frozen=True)
class Column:
    """A column: its key in the figures, its header in Chinese and in English, its kind."""

    key: str
    zh: str
    en: str
    kind: Kind = "text"

    def header(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


_SHEET_FORBIDDEN = frozenset("[]:*?/\\")


@dataclass
class Table:
    """One table of a download: its sheet name (English, and Chinese in ``sheet_zh``; at most 31
    characters each), columns and rows.

    Rows hold the read side's values: integer fen in ``yuan`` columns, decimal
    strings in ``percent`` columns, ISO dates in ``date`` columns, :class:`Text` for our own labels.
    """

    sheet: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    sheet_zh: str | None = None

    def __post_init__(self) -> None:
        for name in (self.sheet, self.sheet_zh or ""):
            if len(name) > SHEET_NAME_LIMIT or _SHEET_FORBIDDEN & set(name):  # pragma: no cover - a bug
                raise ValueError(f"sheet name {name!r} is longer than {SHEET_NAME_LIMIT} or has []:*?/\\")

    def sheet_name(self, lang: str) -> str:
        return (self.sheet_zh or self.sheet) if lang == "zh" else self.sheet

    def headers(self, lang: str) -> list[str]:
        return [c.header(lang) for c in self.columns]

    def localized_rows(self, lang: str) -> list[list[Any]]:
        return [[v.in_(lang) if isinstance(v, Text) else v for v in row] for row in self.rows]


def yuan(fen: int) -> Decimal:
    """Integer fen as yuan, exactly (two decimals)."""
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def _cell(kind: Kind, value: Any) -> Any:
    """A value as the XLSX cell holds it (``None`` stays empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "auto":
        return value if isinstance(value, Decimal | int) else str(value)
    if kind == "yuan":
        return yuan(value)
    if kind == "percent":
        return Decimal(str(value))
    if kind == "count":
        return int(value)
    if kind == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def _text(kind: Kind, value: Any) -> str:
    cell = _cell(kind, value)
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def _definition_lines(definition: Mapping[str, Any] | None) -> Iterator[tuple[str, str]]:
    for key, value in (definition or {}).items():
        if isinstance(value, Mapping):
            for sub, leaf in value.items():
                yield f"{key}.{sub}", str(leaf)
        else:
            yield key, "" if value is None else str(value)


def to_csv(table: Table, definition: Mapping[str, Any] | None, lang: str = "zh") -> bytes:
    """The table (header row, then rows), a blank line, then the definition rows; texts in ``lang``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.headers(lang))
    for row in table.localized_rows(lang):
        writer.writerow([_text(c.kind, v) for c, v in zip(table.columns, row, strict=True)])
    if definition:
        writer.writerow([])
        for key, text in _definition_lines(definition):
            writer.writerow([DEFINITION_LABEL[_lang(lang)], key, text])
    return out.getvalue().encode("utf-8")


_FORMATS: dict[Kind, str | None] = {
    "yuan": YUAN_FORMAT, "count": COUNT_FORMAT, "percent": PERCENT_FORMAT, "date": DATE_FORMAT,
    "text": None, "bool": None, "auto": None,
}


def _lang(lang: str) -> str:
    return "zh" if lang == "zh" else "en"


def to_xlsx(tables: Sequence[Table], definition: Mapping[str, Any] | None, lang: str = "zh") -> bytes:
    """A workbook: one sheet per table (header row 1, frozen), then the definition sheet; texts in ``lang``."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    def safe(value: Any) -> Any:  # XLSX cannot hold control characters (a name may carry one): U+FFFD
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.sheet_name(lang))
        sheet.append(table.headers(lang))
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        for row in table.localized_rows(lang):
            sheet.append([safe(_cell(c.kind, v)) for c, v in zip(table.columns, row, strict=True)])
        for index, column in enumerate(table.columns, start=1):
            fmt = _FORMATS[column.kind]
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(12, min(48, len(column.header(lang)) + 4))
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                if fmt is not None:
                    cell.number_format = fmt
                elif isinstance(cell.value, Decimal):  # an amount in an ``auto`` column
                    cell.number_format = YUAN_FORMAT
                elif isinstance(cell.value, int):
                    cell.number_format = COUNT_FORMAT
    if definition:
        sheet = book.create_sheet(DEFINITION_SHEET[_lang(lang)])
        sheet.append(DEFINITION_HEADER[_lang(lang)])
        for cell in sheet[1]:
            cell.font = bold
        for key, text in _definition_lines(definition):
            sheet.append([safe(key), safe(text)])
        sheet.column_dimensions["A"].width = 24
        sheet.column_dimensions["B"].width = 120
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(
    fmt: ExportFormat, tables: Sequence[Table], definition: Mapping[str, Any] | None, filename: str,
    headers: Mapping[str, str] | None = None, lang: str = "zh",
) -> web.Response:
    """The file as a response: CSV holds the first table, XLSX every table; texts in ``lang``.

    ``filename`` is ASCII without extension (``ttledger-contract-value-by-kind``).
    """
    if fmt is ExportFormat.csv:
        body, content_type, extension = to_csv(tables[0], definition, lang), f"{CSV_TYPE}; charset=utf-8", "csv"
    else:
        body, content_type, extension = to_xlsx(tables, definition, lang), XLSX_TYPE, "xlsx"
    return web.Response(body=body, headers={
        **(headers or {}),
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}.{extension}"',
    })


def flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    """Nested dicts as ``(dotted.path, leaf)`` pairs, in order."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    else:
        yield prefix, value
