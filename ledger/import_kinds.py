"""What each kind of bulk import reads: its columns, how a cell becomes a value, which commands a row sends.

Pure functions: no I/O. A row is a mapping of column key to the raw cell
(``str`` from a CSV; ``str``, ``int``, ``float``, ``datetime`` or ``bool``
from an XLSX), the spreadsheet row number beside it. References to other
records by name or number (an institution's name, a contract's registration
number) are looked up beforehand (ledger/importer.py) and handed in as a
:class:`References`.

A cell that cannot become a value raises :class:`CellError` naming the
column and the rule (domain/import_rules.py or an input rule such as
``money_whole_fen``); what the value means is the command handlers' business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ValidationError

from domain.contract_terms import REGISTRY_CATEGORIES
from domain.enums import CHINESE_LABELS, ContractKind, IpType, LicenceType, TechnologyField
from domain.errors import Rule
from domain.import_rules import (
    IMPORT_CHOICE_KNOWN,
    IMPORT_DATE_FORMAT,
    IMPORT_LIST_FORMAT,
    IMPORT_VALUE_REQUIRED,
)
from domain.inputs import MONEY_WHOLE_FEN
from domain.settlement import Overpayment
from ledger.commands import achievement as ach
from ledger.commands import contract as con

KINDS = ("payments", "achievements", "contracts")


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    """The English name, also the key of the row mapping (``amount_yuan``)."""
    zh: str
    """The Chinese name (``金额(元)``)."""
    type_zh: str
    type_en: str
    required: bool
    example: str
    note_zh: str = ""
    note_en: str = ""

    @property
    def header(self) -> str:
        """The template's header: Chinese first, then English (``金额(元) amount_yuan``)."""
        return f"{self.zh} {self.key}"

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.key


def _c(key: str, zh: str, kind: str, required: bool, example: str, note_zh: str = "", note_en: str = "") -> ColumnSpec:
    type_zh, type_en = TYPES[kind]
    return ColumnSpec(key, zh, type_zh, type_en, required, example, note_zh, note_en)


TYPES: dict[str, tuple[str, str]] = {
    "yuan": ("金额（元），最多两位小数", "amount in yuan, at most two decimals"),
    "date": ("日期 YYYY-MM-DD 或表格日期", "date, YYYY-MM-DD or a spreadsheet date"),
    "id": ("编号：1–64 个 ASCII 字母、数字及 . _ : / # -", "identifier: 1–64 ASCII letters, digits and . _ : / # -"),
    "text": ("文本（一行）", "text, one line"),
    "number": ("官方编号（登记号、专利号）", "official number (registration, patent)"),
    "contract": ("合同 UUID 或认定登记号", "contract UUID or registration number"),
    "institution": ("机构 UUID 或机构全称", "institution UUID or its exact name"),
    "institutions": ("机构 UUID 或全称，多个用 ; 分隔", "institution UUIDs or names separated by ;"),
    "uuids": ("UUID，多个用 ; 分隔", "UUIDs separated by ;"),
    "bool": ("是/否 或 true/false", "yes/no: 是/否 or true/false"),
    "choice": ("可选值之一（英文代码或中文名称）", "one of the values (English code or Chinese label)"),
    "inventors": ("姓名:份额，多个用 ; 分隔", "name:share, several separated by ;"),
}


def _choices(enum: type[StrEnum]) -> tuple[str, str]:
    labels = CHINESE_LABELS.get(enum, {})
    values = [f"{m.value}/{labels[m.value]}" if m.value in labels else m.value for m in enum]
    text = "; ".join(values)
    return text, text


COLUMNS: dict[str, tuple[ColumnSpec, ...]] = {
    "payments": (
        _c("contract", "合同", "contract", True, "2024110000000001",
           "合同的 UUID 或其认定登记号", "the contract's UUID or its registration number (认定登记号)"),
        _c("payment_id", "付款编号", "id", True, "BANK-2024-0001",
           "银行流水号等，在合同内唯一", "bank reference or similar, unique within the contract"),
        _c("amount_yuan", "金额(元)", "yuan", True, "12345.60", "大于零", "more than zero"),
        _c("received_on", "到账日期", "date", True, "2024-03-01"),
        _c("payer", "付款方", "text", False, "北京小微科技有限公司"),
        _c("overpayment", "超额处理", "choice", False, "reject",
           "reject/拒收（默认）或 credit/转为预收", "reject/拒收 (default) or credit/转为预收"),
    ),
    "achievements": (
        _c("title", "成果名称", "text", True, "一种高效锂电池正极材料"),
        _c("ip_type", "知识产权类型", "choice", True, "invention_patent", *_choices(IpType)),
        _c("technology_field", "技术领域", "choice", True, "new_materials", *_choices(TechnologyField)),
        _c("owner", "权属单位", "institution", True, "北京示范大学", "单一权属单位，份额 100%",
           "one owner institution, 100% share"),
        _c("inventors", "完成人", "inventors", True, "张三:60;李四:40",
           "份额合计 100", "shares add up to 100"),
        _c("registered_on", "登记日期", "date", True, "2023-05-01"),
        _c("official_number", "专利号/登记号", "number", False, "ZL202310000001.0"),
        _c("granted_on", "授权日期", "date", False, "2023-04-20"),
        _c("service_achievement", "职务成果", "bool", False, "是", "默认 是", "default yes"),
        _c("state_funded", "财政资助", "bool", False, "否", "默认 否", "default no"),
    ),
    "contracts": (
        _c("kind", "合同类别", "choice", True, "licence", *_choices(ContractKind)),
        _c("title", "合同名称", "text", True, "正极材料专利普通许可"),
        _c("seller", "卖方", "institutions", True, "北京示范大学"),
        _c("buyer", "买方", "institution", True, "北京小微科技有限公司"),
        _c("achievements", "科技成果", "uuids", False, "3f2b8c3e-0000-4000-8000-000000000001",
           "技术开发、咨询、服务合同不填", "empty for development, consulting and service contracts"),
        _c("contract_value_yuan", "合同成交额(元)", "yuan", True, "1000000.00"),
        _c("transaction_value_yuan", "技术交易额(元)", "yuan", True, "900000.00"),
        _c("drafted_on", "起草日期", "date", True, "2024-01-10"),
        _c("licence_type", "许可类型", "choice", False, "non_exclusive", *_choices(LicenceType)),
        _c("due_on", "一次性付款到期日", "date", False, "2024-03-01",
           "填写则合同成交额一次付清，于该日到期", "if given, the contract value is one lump sum due that day"),
        _c("signed_on", "签订日期", "date", False, "2024-01-20"),
        _c("registration_number", "认定登记号", "number", False, "2024110000000001",
           "登记号、登记日期、登记机构同时填写", "fill registration number, date and registry together"),
        _c("registered_on", "登记日期", "date", False, "2024-01-25"),
        _c("registry", "登记机构", "text", False, "北京技术市场管理办公室"),
        _c("approved_value_yuan", "核定技术交易额(元)", "yuan", False, "900000.00",
           "默认为技术交易额", "defaults to the transaction value"),
        _c("effective_on", "生效日期", "date", False, "2024-02-01",
           "填写则合同生效（需已签订）", "if given, the contract takes effect (it must be signed)"),
    ),
}


def normalise_header(text: str) -> str:
    """Case, spaces and full-width brackets do not matter: ``金额（元） Amount_Yuan`` = ``金额(元)amount_yuan``."""
    return re.sub(r"\s+", "", str(text)).replace("（", "(").replace("）", ")").casefold()


def header_index(kind: str) -> dict[str, str]:
    """Every accepted spelling of a header (normalised) → the column key."""
    out: dict[str, str] = {}
    for spec in COLUMNS[kind]:
        for spelling in (spec.key, spec.zh, spec.header, f"{spec.key} {spec.zh}"):
            out[normalise_header(spelling)] = spec.key
    return out


# ---- cells ----------------------------------------------------------------------------------


class CellError(Exception):
    """A cell that cannot become a value; nothing of its row is sent."""

    def __init__(self, column: str, rule: Rule, message_zh: str, message_en: str) -> None:
        self.column = column
        self.rule = rule.name
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{rule.name}: {column}: {message_en}")


def blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def text_of(cell: Any) -> str:
    """A text cell; a number typed into it (``1001`` or ``1001.0`` from Excel) reads as its digits."""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell).strip()


_YUAN = re.compile(r"[+-]?\d+(\.\d+)?")


def yuan_fen(cell: Any, column: str) -> int:
    """An amount in yuan as integer fen, exactly (``12.30`` → 1230).

    Refused (``money_whole_fen``): more than two decimals, exponents (``1e3``), text, booleans.
    Thousands separators (``1,234.50``) are allowed. A sign is kept: the domain refuses a
    negative amount with its own rule (``payment_amount_positive``, ...).
    """
    if isinstance(cell, bool) or not isinstance(cell, str | int | float | Decimal):
        raise _money(column, cell)
    if isinstance(cell, int):
        return cell * 100
    # An XLSX number cell is a float; its shortest repr is what the user typed (12.3, not 12.299999…).
    raw = repr(cell) if isinstance(cell, float) else str(cell).strip().replace(",", "")
    if not _YUAN.fullmatch(raw):
        raise _money(column, cell)
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise _money(column, cell) from None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise CellError(column, MONEY_WHOLE_FEN, f"金额最多两位小数（到分）：{cell}",
                        f"an amount has at most two decimals (whole fen): {cell}")
    return int(value * 100)


def _money(column: str, cell: Any) -> CellError:
    return CellError(column, MONEY_WHOLE_FEN, f"不是以元为单位的金额（如 12345.60）：{cell!r}",
                     f"not an amount in yuan (such as 12345.60): {cell!r}")


def date_of(cell: Any, column: str) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", cell.strip()):
        try:
            return date.fromisoformat(cell.strip())
        except ValueError:
            pass
    raise CellError(column, IMPORT_DATE_FORMAT, f"日期应为 YYYY-MM-DD：{cell!r}",
                    f"a date is YYYY-MM-DD: {cell!r}")


def choice(cell: Any, column: str, enum: type[StrEnum], extra: Mapping[str, str] | None = None) -> str:
    """An enum value from its code or its Chinese label."""
    raw = text_of(cell)
    known = {m.value.casefold(): m.value for m in enum}
    known.update({label: value for value, label in CHINESE_LABELS.get(enum, {}).items()})
    known.update(extra or {})
    found = known.get(raw.casefold()) or known.get(raw)
    if found is None:
        values = ", ".join(m.value for m in enum)
        raise CellError(column, IMPORT_CHOICE_KNOWN, f"不是可选值之一（{values}）：{raw!r}",
                        f"not one of {values}: {raw!r}")
    return found


_YES = {"是", "true", "yes", "y", "1", "t"}
_NO = {"否", "false", "no", "n", "0", "f"}


def yes_no(cell: Any, column: str) -> bool:
    if isinstance(cell, bool):
        return cell
    raw = text_of(cell).casefold()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise CellError(column, IMPORT_CHOICE_KNOWN, f"应为 是/否：{raw!r}", f"yes or no (是/否, true/false): {raw!r}")


def split_list(cell: Any) -> list[str]:
    return [part.strip() for part in re.split(r"[;；]", text_of(cell)) if part.strip()]


def uuid_of(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def missing(column: str) -> CellError:
    return CellError(column, IMPORT_VALUE_REQUIRED, "必填，不能为空", "required: the cell is empty")


# ---- references -------------------------------------------------------------------------------


@dataclass
class References:
    """Names and numbers looked up before the rows are built (ledger/importer.py)."""

    contracts: dict[str, UUID] = field(default_factory=dict)
    """Registration number → contract (the latest registration or correction naming it)."""
    institutions: dict[str, list[UUID]] = field(default_factory=dict)
    """Current name → institutions of that name (two: ambiguous)."""


def wanted_references(kind: str, rows: Sequence[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """The registration numbers and institution names the rows name (not UUIDs)."""
    numbers: set[str] = set()
    names: set[str] = set()
    for row in rows:
        if kind == "payments" and not blank(row.get("contract")):
            text = text_of(row["contract"])
            if uuid_of(text) is None:
                numbers.add(text)
        cells = {"achievements": ("owner",), "contracts": ("seller", "buyer")}.get(kind, ())
        for column in cells:
            if not blank(row.get(column)):
                names.update(t for t in split_list(row[column]) if uuid_of(t) is None)
    return numbers, names


def _contract(refs: References, cell: Any, column: str) -> UUID:
    text = text_of(cell)
    found = uuid_of(text) or refs.contracts.get(text)
    if found is None:
        from domain.ledger_rules import REFERENCED_RECORD_EXISTS

        raise CellError(column, REFERENCED_RECORD_EXISTS, f"没有认定登记号为 {text} 的合同",
                        f"no contract with registration number {text}")
    return found


def _institution(refs: References, text: str, column: str) -> UUID:
    from domain.ledger_rules import REFERENCED_RECORD_EXISTS

    found = uuid_of(text)
    if found is not None:
        return found
    named = refs.institutions.get(text, [])
    if len(named) == 1:
        return named[0]
    if not named:
        raise CellError(column, REFERENCED_RECORD_EXISTS, f"没有名为 {text} 的机构",
                        f"no institution named {text}")
    raise CellError(column, REFERENCED_RECORD_EXISTS, f"有 {len(named)} 个机构名为 {text}，请填写 UUID",
                    f"{len(named)} institutions are named {text}: give the UUID")


# ---- rows → commands --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One command of a row, and where its fields came from (for reporting a rule on a field)."""

    command: BaseModel
    columns: Mapping[str, str]
    """Field path prefix (``amount_fen``, ``terms.seller_ids``) → column key."""
    column: str
    """The column blamed for an error on no known field (the contract's status, ...)."""


@dataclass(frozen=True)
class BuiltRow:
    steps: tuple[Step, ...]
    group: str
    """Rows of one group touch the same records: they run in file order, one after another."""
    touches: tuple[str, ...] = ()
    """Further records the row writes (achievements a contract takes effect on): merged into one group."""


def record_id(sha256: str, row: int, what: str) -> UUID:
    """A record an import creates has an id derived from the file and row: a resumed run makes the same one."""
    return uuid5(NAMESPACE_URL, f"https://ttledger.dev/import/{sha256}/{row}/{what}")


Builder = Callable[[Mapping[str, Any], int, str, References], BuiltRow]


def _get(row: Mapping[str, Any], column: str, required: bool = False) -> Any:
    cell = row.get(column)
    if blank(cell):
        if required:
            raise missing(column)
        return None
    return cell


def _required(kind: str) -> list[str]:
    return [c.key for c in COLUMNS[kind] if c.required]


def build_payment(row: Mapping[str, Any], number: int, sha256: str, refs: References) -> BuiltRow:
    for column in _required("payments"):
        _get(row, column, True)
    contract_id = _contract(refs, row["contract"], "contract")
    over = _get(row, "overpayment")
    overpayment = (choice(over, "overpayment", Overpayment, {"拒收": "reject", "转为预收": "credit", "预收": "credit"})
                   if over is not None else Overpayment.reject.value)
    payer = _get(row, "payer")
    columns = {"contract_id": "contract", "payment_id": "payment_id", "amount_fen": "amount_yuan",
               "received_on": "received_on", "payer": "payer", "overpayment": "overpayment",
               "due_item_id": "amount_yuan"}
    step = _make(con.RecordPayment, {
        "contract_id": contract_id, "payment_id": text_of(row["payment_id"]),
        "amount_fen": yuan_fen(row["amount_yuan"], "amount_yuan"),
        "received_on": date_of(row["received_on"], "received_on"),
        "overpayment": overpayment, "payer": text_of(payer) if payer is not None else None,
    }, columns, "contract")
    return BuiltRow((step,), f"contract:{contract_id}")


_INVENTOR = re.compile(r"(.+?)\s*[:：]\s*([0-9]+(?:\.[0-9]+)?)")


def parse_inventors(cell: Any, column: str = "inventors") -> list[tuple[str, str]]:
    out = []
    for part in split_list(cell):
        matched = _INVENTOR.fullmatch(part)
        if matched is None:
            raise CellError(column, IMPORT_LIST_FORMAT, f"完成人应写作 姓名:份额（如 张三:60;李四:40）：{part!r}",
                            f"an inventor is name:share (e.g. 张三:60;李四:40): {part!r}")
        out.append((matched.group(1).strip(), matched.group(2)))
    if not out:
        raise missing(column)
    return out


def build_achievement(row: Mapping[str, Any], number: int, sha256: str, refs: References) -> BuiltRow:
    for column in _required("achievements"):
        _get(row, column, True)
    owner = _institution(refs, text_of(row["owner"]), "owner")
    official = _get(row, "official_number")
    granted = _get(row, "granted_on")
    service = _get(row, "service_achievement")
    funded = _get(row, "state_funded")
    inventors = parse_inventors(row["inventors"])
    columns = {"title": "title", "ip_type": "ip_type", "technology_field": "technology_field", "owners": "owner",
               "inventors": "inventors", "registered_on": "registered_on", "official_number": "official_number",
               "granted_on": "granted_on", "service_achievement": "service_achievement",
               "state_funded": "state_funded"}
    step = _make(ach.RegisterAchievement, {
        "id": record_id(sha256, number, "achievement"),
        "title": text_of(row["title"]),
        "ip_type": choice(row["ip_type"], "ip_type", IpType),
        "technology_field": choice(row["technology_field"], "technology_field", TechnologyField),
        "owners": [{"institution_id": owner, "share": "100"}],
        "inventors": [{"name": name, "share": share} for name, share in inventors],
        "registered_on": date_of(row["registered_on"], "registered_on"),
        "official_number": text_of(official) if official is not None else None,
        "granted_on": date_of(granted, "granted_on") if granted is not None else None,
        "service_achievement": yes_no(service, "service_achievement") if service is not None else True,
        "state_funded": yes_no(funded, "state_funded") if funded is not None else False,
    }, columns, "title")
    return BuiltRow((step,), f"row:{number}")


_REGISTRATION = ("registration_number", "registered_on", "registry")


def build_contract(row: Mapping[str, Any], number: int, sha256: str, refs: References) -> BuiltRow:
    for column in _required("contracts"):
        _get(row, column, True)
    kind = choice(row["kind"], "kind", ContractKind)
    sellers = [_institution(refs, t, "seller") for t in split_list(row["seller"])]
    buyer = _institution(refs, text_of(row["buyer"]), "buyer")
    achievement_ids: list[UUID] = []
    for text in split_list(row.get("achievements") or ""):
        found = uuid_of(text)
        if found is None:
            raise CellError("achievements", IMPORT_LIST_FORMAT, f"科技成果应为 UUID，多个用 ; 分隔：{text!r}",
                            f"achievements are UUIDs separated by ';': {text!r}")
        achievement_ids.append(found)
    value = yuan_fen(row["contract_value_yuan"], "contract_value_yuan")
    terms: dict[str, Any] = {
        "kind": kind, "title": text_of(row["title"]), "seller_ids": sellers, "buyer_id": buyer,
        "achievement_ids": achievement_ids, "contract_value_fen": value,
        "transaction_value_fen": yuan_fen(row["transaction_value_yuan"], "transaction_value_yuan"),
    }
    licence_type = _get(row, "licence_type")
    if licence_type is not None:
        terms["licence"] = {"licence_type": choice(licence_type, "licence_type", LicenceType)}
    due = _get(row, "due_on")
    if due is not None:
        terms["payment_terms"] = {"fixed_price_fen": value,
                                  "installments": [{"amount_fen": value, "due_on": date_of(due, "due_on")}]}
    contract_id = record_id(sha256, number, "contract")
    drafted_on = date_of(row["drafted_on"], "drafted_on")
    steps = [_make(con.DraftContract, {"id": contract_id, "terms": terms, "drafted_on": drafted_on},
                  {"terms.kind": "kind", "terms.title": "title", "terms.seller_ids": "seller",
                   "terms.buyer_id": "buyer", "terms.achievement_ids": "achievements",
                   "terms.contract_value_fen": "contract_value_yuan",
                   "terms.transaction_value_fen": "transaction_value_yuan", "terms.licence": "licence_type",
                   "terms.payment_terms": "due_on", "drafted_on": "drafted_on"}, "kind")]
    signed = _get(row, "signed_on")
    if signed is not None:
        steps.append(_make(con.SignContract, {"contract_id": contract_id, "on": date_of(signed, "signed_on")},
                           {"on": "signed_on"}, "signed_on"))
    filled = [c for c in _REGISTRATION if _get(row, c) is not None]
    if filled or _get(row, "approved_value_yuan") is not None:
        for column in _REGISTRATION:
            _get(row, column, True)
        if signed is None:
            raise missing("signed_on")
        approved = _get(row, "approved_value_yuan")
        category = {ContractKind.equity_contribution.value: ContractKind.assignment.value,
                    ContractKind.ufpl_licence.value: ContractKind.licence.value}.get(kind, kind)
        assert category in {c.value for c in REGISTRY_CATEGORIES}
        steps.append(_make(con.RegisterContract, {"contract_id": contract_id, "registration": {
            "registry": text_of(row["registry"]),
            "registration_number": text_of(row["registration_number"]),
            "approved_category": category,
            "approved_transaction_value_fen": (yuan_fen(approved, "approved_value_yuan") if approved is not None
                                               else terms["transaction_value_fen"]),
            "registered_on": date_of(row["registered_on"], "registered_on"),
        }}, {"registration.registry": "registry", "registration.registration_number": "registration_number",
              "registration.approved_transaction_value_fen": "approved_value_yuan",
              "registration.registered_on": "registered_on", "registration": "registration_number"},
            "registration_number"))
    effective = _get(row, "effective_on")
    if effective is not None:
        if signed is None:
            raise missing("signed_on")
        steps.append(_make(con.TakeEffect, {"contract_id": contract_id, "on": date_of(effective, "effective_on")},
                           {"on": "effective_on"}, "effective_on"))
    touches = tuple(f"achievement:{a}" for a in achievement_ids) if effective is not None else ()
    return BuiltRow(tuple(steps), f"contract:{contract_id}", touches)


BUILDERS: dict[str, Builder] = {
    "payments": build_payment,
    "achievements": build_achievement,
    "contracts": build_contract,
}


def column_of(step: Step, path: str) -> str:
    """The column a field path of ``step``'s command came from (longest known prefix)."""
    return _column(step.columns, step.column, path)


def _column(columns: Mapping[str, str], default: str, path: str) -> str:
    bare = re.sub(r"\[\d+\]", "", path)
    best = ""
    for prefix in columns:
        if (bare == prefix or bare.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return columns[best] if best else default


def loc_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a field path (``terms.seller_ids[0]``)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _make(cls: type[BaseModel], data: dict[str, Any], columns: Mapping[str, str], default: str) -> Step:
    """Validate one command; a field it refuses is reported on its column with the input rule's name."""
    try:
        command = cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        column = _column(columns, default, loc_path(first["loc"]))
        raise CellError(column, Rule(first["type"], ""), first["msg"], first["msg"]) from None
    return Step(command, columns, default)


def spec(kind: str, key: str) -> ColumnSpec | None:
    return next((c for c in COLUMNS[kind] if c.key == key), None)
