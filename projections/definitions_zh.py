"""统计口径 in Chinese: every English text of projections/definitions.py (and of the reports'
definitions) with its Chinese, and :func:`localize` to serve a definition in either language.

The read side builds each ``definition`` block in English from the constants of
``projections/definitions.py`` (plus short generated parts: the as-of date, the
currency, the formula's name). ``ZH`` maps each English text, and each generated
joint, to its Chinese; :func:`localize` replaces them, longest first, so a
definition composed of them reads wholly in Chinese. Wording follows DOMAIN.md's
glossary and the national bulletins (技术合同成交额, 技术交易额, 登记额, 先使用后付费,
作价投资, 收益分配). tests/unit/test_definitions_zh.py fails when a text has no Chinese.
"""

from __future__ import annotations

import re
from typing import Any

from projections import definitions as d
from projections.register import REGISTER_DEFINITION as REG
from projections.reports import ANNUAL_DEFINITION as ANNUAL
from projections.reports import AUTM_DEFINITION as AUTM

_FORMULAS = d.TRANSFER_RATE_FORMULAS

ZH: dict[str, str] = {
    # --- contract value ----------------------------------------------------------------------
    d.CONTRACT_VALUE["title"]: "技术合同成交额（含技术交易额和登记额）",
    d.CONTRACT_VALUE["formula"]: (
        "count = 合同份数；contract_value = 合同约定的合同成交额之和；transaction_value = 技术交易额之和；"
        "registered_value = 已登记合同最新一次认定登记（含补正）核定的技术交易额（登记额）之和；"
        "cash_received = 所计合同截至目前 Σ PaymentReceived.amount − Σ CreditRefunded.amount；"
        "yoy = （本期 − 上年同期）÷ 上年同期 × 100"
    ),
    d.CONTRACT_VALUE["scope"]: (
        "各类技术合同（转让、许可、先使用后付费许可、作价投资、技术开发、技术咨询、技术服务），每份合同计一次："
        "成果在多个交易所挂牌（联合挂牌）的合同只计一份，不按挂牌重复计算；涉及多项成果的合同计一份。"
        "卖方属性取牵头卖方（列在首位、账本将收入记入的卖方），买方属性取买方，均为合同起草时的情况；"
        "技术领域和知识产权类型取主要（首项）成果；技术开发、咨询和服务合同不涉及成果，没有这两项属性。"
        "卖方筛选匹配合同的任一卖方；交易所筛选匹配合同起草时其成果在该交易所有有效挂牌的合同。"
    ),
    d.CONTRACT_VALUE["status_basis"]: (
        "已签订及其后状态：已签订、生效、履行完毕、到期和解除的合同均计入（解除的合同在其所属期间仍是已签订的）；"
        "起草中的合同从不计入。按认定登记日期口径时只计已登记的合同。"
    ),
    d.CONTRACT_VALUE_DATE_BASIS["signed"]: "按签订日期将合同归入期间。",
    d.CONTRACT_VALUE_DATE_BASIS["registered"]: (
        "按首次认定登记日期将合同归入期间；补正改变登记额，但不把合同移到其他期间。"
    ),
    # --- transfer rate -----------------------------------------------------------------------
    d.TRANSFERRED: (
        "成果自首次有涉及它的转让或许可生效、作价投资生效，或涉及它的先使用后付费许可转为付费条款之日起为已转化"
        "（退还的先使用后付费试用从不使其转化）。此后合同终止的，仍为已转化。"
        "每项成果只计一次，无论其有多少合同或挂牌。"
    ),
    "achievements of the denominator transferred on or before the as-of date. ": "分母中在统计截止日或之前已转化的成果。",
    d.TRANSFER_RATE_SCOPE: (
        "账本中登记的成果，归属于登记时的权利人（列在首位者）及其所在地区；技术领域和知识产权类型取成果本身。"
    ),
    _FORMULAS["transferred_over_registered"].formula: "已转化成果数 ÷ 登记成果数 × 100%",
    _FORMULAS["transferred_over_registered"].denominator: "在统计截止日或之前登记于账本的全部成果",
    _FORMULAS["transferred_over_registered"].date_basis: "按成果登记日期归入期间（队列）",
    _FORMULAS["transferred_over_separate_register"].formula: (
        "已转化的职务科技成果数 ÷ 纳入资产单列管理的职务科技成果数 × 100%"),
    _FORMULAS["transferred_over_separate_register"].denominator: (
        "统计截止日在资产单列管理台账中的职务科技成果（截止日或之前纳入且未退出；以最近一次纳入为准）"),
    _FORMULAS["transferred_over_separate_register"].date_basis: "按纳入单列管理的日期归入期间（队列）",
    _FORMULAS["transferred_over_separate_register"].note: (
        "陕西报告单列管理的 11.3 万项成果中已转化 4.8 万余项，未说明二者是否为包含关系；本账本的分子始终是分母的子集。"),
    _FORMULAS["transferred_over_granted_invention_patents"].formula: (
        "已转化的授权发明专利数 ÷ 授权发明专利数 × 100%"),
    _FORMULAS["transferred_over_granted_invention_patents"].denominator: "在统计截止日或之前授权的发明专利",
    _FORMULAS["transferred_over_granted_invention_patents"].date_basis: "按授权日期将专利归入期间（队列）",
    _FORMULAS["patents_assigned_plus_licensed_over_granted"].formula: (
        "（已转让的授权专利数 + 已许可的授权专利数）÷ 授权专利数 × 100%"),
    _FORMULAS["patents_assigned_plus_licensed_over_granted"].numerator: (
        "专利转让数：在统计截止日或之前因转让或作价投资生效而权属转移的授权专利；加上专利许可数：在截止日或之前"
        "有许可生效、或先使用后付费许可转为付费的授权专利。每项专利在每一项中最多计一次，"
        "因此既转让又许可的专利按公式计两次。"),
    _FORMULAS["patents_assigned_plus_licensed_over_granted"].denominator: (
        "在统计截止日或之前授权的各类专利（发明、实用新型、外观设计）"),
    _FORMULAS["patents_assigned_plus_licensed_over_granted"].date_basis: "按授权日期将专利归入期间（队列）",
    _FORMULAS["local_transfer_rate"].formula: "转化给本地买方的成果数 ÷ 已转化成果数 × 100%",
    _FORMULAS["local_transfer_rate"].numerator: (
        "首次转化的买方注册在成果权利人同一省份的已转化成果"),
    "achievements transferred on or before the as-of date. ": "在统计截止日或之前已转化的成果。",
    _FORMULAS["local_transfer_rate"].date_basis: "按首次转化日期将成果归入期间",
    _FORMULAS["local_transfer_rate"].note: "四川按可比口径报告为 63.1%（2015 年）和 34.2%（2023 年）。",
    # --- use-first-pay-later -----------------------------------------------------------------
    d.UFPL_LISTED: (
        "可先使用后付费的挂牌成果：登记时权利人为高校或科研院所（陕西、四川先使用后付费政策向中小微企业开放的"
        "机构成果）的职务科技成果，且至少在一个交易所挂牌；无论在多少交易所挂牌（联合挂牌）每项成果只计一次，"
        "归入其首次挂牌的期间。"
    ),
    d.UFPL_FUNNEL["title"]: "先使用后付费转化漏斗",
    d.UFPL_FUNNEL["formula"]: (
        "listed = 首次挂牌的可先使用后付费成果数；signed = 签订的先使用后付费许可数（金额 = 合同成交额之和）；"
        "trials_started = 生效（试用开始）的先使用后付费许可数；converted = 转为付费条款的次数；"
        "returned = 试用后退还的许可数；defaulted = 首次记录违约的先使用后付费许可数；"
        "conversion_rate = converted ÷（converted + returned）× 100（已有结论的试用中转为付费的比例）；"
        "licensee_revenue = 被许可方报告的新增营收之和；insurance_compensation = 保险机构先行赔付之和"
    ),
    " Contracts: technology contracts of kind ufpl_licence, once each.": (
        "合同：类别为 ufpl_licence（先使用后付费许可）的技术合同，每份计一次。"),
    d.UFPL_FUNNEL["date_basis"]: (
        "每个阶段按其自身日期归入期间：首次挂牌、签订、生效（试用开始）、转为付费、退还、首次违约；"
        "营收按报告日期，赔付按支付日期。给出 as_of 时为该业务日期的漏斗：阶段日期在 as_of 当日或之前方计入。"
    ),
    d.UFPL_FUNNEL["status_basis"]: "起草中的合同从不计入；退还的许可仍计为已签订和已开始试用。",
    # --- receivables -------------------------------------------------------------------------
    d.RECEIVABLES["title"]: "应收账款：未收、逾期及账龄",
    d.RECEIVABLES["formula"]: (
        "outstanding（未收）= 对 as_of 当日或之前已形成的款项求 Σ（金额 − 已付 − 核销 − 取消），"
        "只计业务日期在 as_of 当日或之前的付款、冲抵的预收款、保险赔付、核销和取消；"
        "overdue（逾期）= as_of 当日的到期日（含此前已决定的延期）早于 as_of 的款项的未收额；逾期天数 = as_of − 到期日；"
        "账龄区间 0-30（逾期 1 至 30 天）、31-90、91-180、181-365、>365 天；"
        "not_due（未到期）= 到期日在 as_of 当日或之后的款项的未收额"
    ),
    d.RECEIVABLES["scope"]: (
        "各合同的应收款项，各自形成之日起计：分期款和入门费自生效日（或先使用后付费转为付费之日）起，"
        "提成自提成申报之日起，最低提成补足自补足之日起，里程碑付款自里程碑达成之日起，终止时保留为仍欠的金额"
        "（约定补偿、违约金）自终止之日起；记入合同的牵头卖方，日期与账簿中应收账款分录相同，"
        "因此本数字等于 as_of 当日账簿的应收账款余额。"
        "超额付款形成的预收款不是应收款。合同终止时尚未到期的款项因终止而取消（民法典 第566条），不是应收款。"
    ),
    d.RECEIVABLES["date_basis"]: (
        "业务日期 as_of 当日的状态（款项自形成之日起计；付款、核销和取消按其业务日期；延期支付自决定之日起），"
        "以账本在日志位置 known_at 所知为准（默认：已记录的全部）：known_at 之后记录的分录即使业务日期更早也不计入。"
        "账龄 = as_of − 款项在 as_of 当日的到期日。"
    ),
    d.RECEIVABLES["status_basis"]: "有未收金额的款项，无论合同状态（债务在合同终止后仍然存在）。",
    # --- distribution audit ------------------------------------------------------------------
    d.DISTRIBUTION["title"]: "收益分配审计",
    d.DISTRIBUTION["formula"]: (
        "received = 已分配收款的总收入之和；deducted = received − 净收入（按规则包计算的扣除，净收入不低于 0）；"
        "allocated = 各分配行之和（= 净收入，含调整）；paid = 在 as_of 或之前支付的奖励之和；"
        "unpaid = allocated − paid；team_* 为仅限成果完成人团队各行（个人奖励）的上述数字"
    ),
    d.DISTRIBUTION["scope"]: (
        "按机构收益分配政策分配的收款（IncomeDistribution）、其按受益方和按完成人的各行，以及已采用的政策版本。"
        "收款是合同上确认的收入：付款或保险先行赔付中结清到期款项的部分，或冲抵时的预收款（credit-<n>）；"
        "仍持有或已退还的预收款不是收入。"
    ),
    " Inventors are shown only as counts and amounts.": "完成人只以人数和金额显示。",
    d.DISTRIBUTION["date_basis"]: (
        "按收款日期（received_on；冲抵的预收款为冲抵之日）将收款及其各行归入期间；审计为给出的 as_of 当日的状态："
        "该日或之前收到的收入、支付的奖励和采用的政策，奖励期限状态也按该日判断。"
    ),
    d.DISTRIBUTION["status_basis"]: (
        "期限（财税〔2018〕58号：自取得收入起 36 个月内发放奖励）：paid_in_time = 在 as_of 前全部付清且每笔付款"
        "均在期限内；paid_late = 在 as_of 前全部付清但有付款在期限之后；overdue = 未全部付清且 as_of 已过期限；"
        "open = 未全部付清且期限未过。对有金额的成果完成人团队各行判断。"
    ),
    d.DISTRIBUTION["floors"]: (
        "政策低于下限：被标记为低于其规则包下限的政策版本（只有不受下限约束的机构才能采用）。"
        "分配低于下限：分配比例档低于下限（below_floor）或团队金额按分计算低于下限（team_short_fen > 0）的收款。"
    ),
    # --- obligations -------------------------------------------------------------------------
    d.SELF_IMPLEMENTATION_AWARDS["title"]: "自行实施奖励",
    d.SELF_IMPLEMENTATION_AWARDS["formula"]: (
        "allocated = 截至 as_of 已分配的营业利润奖励中完成人各行之和；paid = 这些行在 as_of 或之前的付款之和；"
        "unpaid = allocated − paid"
    ),
    d.SELF_IMPLEMENTATION_AWARDS["scope"]: (
        "从自行实施的年度营业利润中给予完成人的奖励（促进科技成果转化法 第45条第3项），每年每位完成人一行，及其付款。"
    ),
    d.SELF_IMPLEMENTATION_AWARDS["date_basis"]: "按分配日期（allocated_on）将奖励归入期间，并起算其期限；",
    d.SELF_IMPLEMENTATION_AWARDS["status_basis"]: (
        "期限（财税〔2018〕58号）：自分配日（决定奖励之日）起 36 个月（营业利润奖励没有收款；此为账本的理解）。"
        "paid_in_time = 在 as_of 前全部付清且每笔付款均在期限内；paid_late = 全部付清但有付款在期限之后；"
        "overdue = 未全部付清且 as_of 已过期限；open = 未全部付清且期限未过。对有金额的每个完成人行判断。"
    ),
    d.INVENTION_BONUS["title"]: "职务发明人奖金",
    d.INVENTION_BONUS["formula"]: (
        "floor = 每项发明专利 4,000.00 元，每项实用新型或外观设计 1,500.00 元；paid = 在 as_of 或之前的奖金付款之和；"
        "short = floor − paid（不低于 0；已约定数额的为 0）"
    ),
    d.INVENTION_BONUS["scope"]: (
        "职务科技成果的授权专利（发明、实用新型、外观设计）（专利法实施细则（2023） 第92–94条），每项专利一项义务，"
        "由其登记时的首位权利人承担。"
    ),
    d.INVENTION_BONUS["date_basis"]: "按授权日期（granted_on，视为公告日）将专利归入期间；义务于该日产生，期限为其后 3 个月；",
    d.INVENTION_BONUS["status_basis"]: (
        "due = 下限尚未付足且期限未过；met = 在期限内付足下限；met_late = 已付足下限，但在期限之后；"
        "overdue = 期限已过且截至 as_of 未付足下限；agreed = 记录为按单位约定或规章制度发放的付款（第92条），"
        "不按法定下限（第93条）判断。"
    ),
    # --- annual transformation report (促进科技成果转化法 第二十一条) -----------------------------
    ANNUAL["title"]: "科技成果转化年度报告（《促进科技成果转化法》第二十一条）",
    ANNUAL["formula"]: (
        "一、科技成果转化总体情况（achievements_transferred）：本年度以本单位为牵头卖方的合同按转化方式"
        "（转让、许可、先使用后付费转为付费、作价投资）转化的成果数，同一成果只计一次，合计为不重复的成果数；"
        "二、合同情况（contracts）：按合同类别统计的合同份数及合同成交额、技术交易额、登记额之和；"
        "三、收入情况（income）：按收入类别统计的到账收入之和；"
        "四、收益分配与奖励情况（distribution）：本年度分配的收款、分配给成果完成人的奖励（人数为不重复的完成人）、"
        "本年度发放的现金奖励及本年度授予的股权奖励"
    ),
    ANNUAL["scope"]: (
        "本单位作为卖方（任一卖方；仅限人民币）的合同；以本单位为牵头卖方或股权持有方记入的收入和转化；"
        "本单位的收款、奖励和股权奖励。"
    ),
    ANNUAL["date_basis"]: (
        "自然年度：转化按转化日期，合同按签订日期，收入按到账日期，分配按收款日期，奖励发放按支付日期，"
        "股权奖励按授予日期"
    ),
    ANNUAL["status_basis"]: "已签订及其后状态的合同（含已解除的）；起草中的合同从不计入",
    # --- AUTM-style summary --------------------------------------------------------------------
    AUTM["title"]: "AUTM 式许可活动统计摘要",
    AUTM["formula"]: (
        "签订的许可 = 本年度签订的许可合同和先使用后付费许可合同（账本中期权不是单独的合同类别）；"
        "独占 = 独占或排他许可，非独占 = 普通许可；许可给初创企业 = 被许可方是围绕本单位的许可或作价投资而设立的企业"
        "（见下文），否则按被许可方规模：中小微企业（AUTM：雇员少于 500 人）、大型企业、其他（非企业）；"
        "含股权的许可 = 本年度签订的作价投资合同；提成收入 = 结清按销售额、利润或增加值报告的提成款项的收款；"
        "股权变现收入 = 出售股权（SharesSold）所得（实际到账的现金）；其他收入 = 入门费、分期款、里程碑付款和"
        "最低提成补足、保险先行赔付以及分红；新设初创企业 = 本年度设立（登记）并在设立后一年内与本单位签订许可、"
        "先使用后付费许可或作价投资合同的企业：即 AUTM“依赖本单位技术许可而创立的初创企业”的替代口径"
        "（AUTM 许可活动调查，定义）。较早设立、之后才获得作价投资的企业不计为后一年度的初创企业；"
        "许可在年度结束后才记录的，补计入其所属年度（重述）"
    ),
    AUTM["scope"]: (
        "转让、许可、先使用后付费许可和作价投资合同的许可收入（技术开发、咨询和服务费不是许可收入），"
        "记入牵头卖方或持股单位"
    ),
    AUTM["date_basis"]: "自然年度：合同按签订日期，收入按到账日期，初创企业按其设立日期",
    "; every institution": "；全部机构",
    "; institution ": "；机构 ",
    # --- register of achievements --------------------------------------------------------------
    REG["title"]: "成果登记台账",
    REG["formula"]: "每项成果一行；已转化 = 首次转化的日期和方式（转让、许可、先使用后付费转为付费、作价投资）",
    REG["scope"]: "本单位作为首位权利人登记的成果，无论现在由谁所有（已转让的成果连同其转化记录仍留在台账中）。",
    REG["date_basis"]: "台账按登记日期排序；包含截至下列日志位置记录的全部事件",
    REG["status_basis"]: "全部已登记的成果，含已失效的（lapsed_on）",
    "CNY; amounts in fen": "CNY；金额单位为分",
    # --- generated joints ---------------------------------------------------------------------
    "; amounts in fen (0.01 yuan); contracts in other currencies are not converted and not included": (
        "；金额单位为分（0.01 元）；其他币种的合同不折算、不计入"),
    "; amounts in fen": "；金额单位为分",
    "CNY (income distributions carry no currency; the ledger distributes CNY)": (
        "CNY（收益分配不记币种；账本分配的是人民币）"),
    "none (counts of achievements)": "无（成果数）",
    "none (no amounts)": "无（不含金额）",
    " Numerator: ": "分子：",
    " Denominator: ": "分母：",
    "; as of every event recorded": "；截至已记录的全部事件",
    "; as of ": "；统计截止日 ",
    " as_of = ": "统计截止日 as_of = ",
}
"""English text → Chinese text of every definition (统计口径) the read side serves."""

_ORDER = sorted(ZH, key=len, reverse=True)
_PATTERN = re.compile("|".join(re.escape(k) for k in _ORDER))
DEFINITION_TEXT_KEYS = ("title", "formula", "scope", "date_basis", "status_basis", "currency",
                        "listed_definition", "floors", "numerator", "denominator", "note")


def to_zh(text: str) -> str:
    """``text`` with every English part of ZH replaced by its Chinese."""
    return _PATTERN.sub(lambda m: ZH[m.group(0)], text)


def localize_definition(block: dict[str, Any], lang: str) -> dict[str, Any]:
    """A definition block in ``lang``: its texts in Chinese for ``zh``, unchanged for ``en``."""
    if lang != "zh":
        return dict(block)
    out = dict(block)
    for key in DEFINITION_TEXT_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = to_zh(value)
    return out


def localize(value: Any, lang: str) -> Any:
    """``value`` (a figures answer) with every ``definition`` and formula description in ``lang``.

    The top level also carries ``definition_zh`` and ``definition_en``, the same
    definition in both languages, whichever was chosen.
    """
    out = _walk(value, lang)
    if isinstance(value, dict) and isinstance(value.get("definition"), dict):
        out["definition_zh"] = localize_definition(value["definition"], "zh")
        out["definition_en"] = dict(value["definition"])
    return out


def _walk(value: Any, lang: str) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            # ``formula`` as a dict: a transfer-rate formula's description
            if key in ("definition", "formula") and isinstance(item, dict):
                out[key] = localize_definition(item, lang)
            else:
                out[key] = _walk(item, lang)
        return out
    if isinstance(value, list):
        return [_walk(item, lang) for item in value]
    return value
