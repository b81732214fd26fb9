// Labels in Chinese (the default) and English. The chosen language is kept in localStorage.
// Chinese terms of codes follow domain/enums.py (CHINESE_LABELS) and domain/institution.py (PROVINCES).

const TEXT = {
  zh: {
    "app.title": "科技成果转化统计看板",
    "colon": "：",
    "unit.label": "金额单位",
    "unit.auto": "自动",
    "unit.yuan": "元",
    "unit.wan": "万元",
    "unit.yi": "亿元",
    "nav.signout": "退出",
    "history.title": "记录历史",
    "history.event": "事件",
    "history.at": "录入时间",
    "history.by": "录入人",
    "history.unknown": "（早于录入人记录）",
    "history.back": "返回看板",
    "login.title": "登录",
    "login.token": "API 令牌",
    "login.submit": "进入看板",
    "login.help": "在服务器上用 ttledger token create --role regulator（监管部门）或 --role institution --institution 机构ID（高校院所）创建令牌，令牌只显示一次，粘贴到这里。令牌只保存在本浏览器标签页中（sessionStorage），关闭标签页即清除。",
    "login.invalid": "令牌无效、已吊销或格式不对。",
    "role.admin": "管理员",
    "role.regulator": "监管部门",
    "role.institution": "机构",
    "role.operator": "技术交易机构",
    "note.operator": "本看板面向监管部门和高校院所；技术交易机构请使用 API（/docs）。",
    "period.label": "期间",
    "period.year": "年",
    "period.quarter": "季度",
    "period.month": "月",
    "formula.label": "转化率公式",
    "asof.label": "截至日期",
    "loading": "加载中…",
    "error": "无法加载",
    "none": "无",
    "total": "合计",
    "yes": "是",
    "no": "否",
    "unknown": "未知",
    "download.csv": "下载 CSV",
    "download.xlsx": "下载 Excel",
    "panel.contractsPeriod": "技术合同成交额（按期间）",
    "panel.contractsKind": "技术合同成交额（按合同类别）",
    "panel.contractsRegion": "技术合同成交额（按卖方地区）",
    "panel.transferInstitution": "科技成果转化率（按机构）",
    "panel.transferRegion": "科技成果转化率（按地区）",
    "panel.ufpl": "先使用后付费：挂牌 → 试用 → 转化 / 退回",
    "panel.receivables": "应收账款账龄",
    "panel.audit": "收益分配审计",
    "panel.deadlines": "奖励发放期限（收到收入后36个月）",
    "panel.breachPolicies": "低于法定下限的分配政策",
    "panel.breachAllocations": "低于法定下限的收入分配",
    "panel.register": "科技成果登记台账",
    "panel.reports": "年度报告下载",
    "series.contractValue": "合同成交额",
    "series.transactionValue": "技术交易额",
    "series.registeredValue": "登记额",
    "series.rate": "转化率（%）",
    "series.stages": "先使用后付费",
    "series.notDue": "未到期",
    "series.deadlines": "发放期限",
    "col.period": "期间",
    "col.kind": "合同类别",
    "col.region": "地区",
    "col.institution": "机构",
    "col.contract": "合同",
    "col.count": "合同数",
    "col.numerator": "已转化（分子）",
    "col.denominator": "分母",
    "col.rate": "转化率",
    "col.signedValue": "签约金额",
    "col.conversionRate": "试用转化率",
    "col.licenseeRevenue": "被许可方新增营收",
    "col.insurance": "保险先行赔付",
    "col.outstanding": "应收余额",
    "col.overdue": "逾期",
    "col.receipts": "收入笔数",
    "col.received": "收入",
    "col.deducted": "扣除",
    "col.net": "净收入",
    "col.allocated": "已分配",
    "col.paid": "已发放",
    "col.unpaid": "未发放",
    "col.teamUnpaid": "完成人奖励未发放",
    "col.inventors": "完成人数",
    "col.lines": "笔数",
    "col.status": "状态",
    "col.version": "政策版本",
    "col.effectiveFrom": "生效日期",
    "col.pack": "规则包",
    "col.teamShare": "团队现金比例",
    "col.floor": "法定下限",
    "col.findings": "问题",
    "col.receipt": "收款编号",
    "col.receivedOn": "收款日期",
    "col.team": "团队分配",
    "col.teamFloor": "下限金额",
    "col.short": "差额",
    "col.title": "成果名称",
    "col.ipType": "知识产权类型",
    "col.field": "技术领域",
    "col.registeredOn": "登记日期",
    "col.grantedOn": "授权日期",
    "col.inRegister": "资产单列管理",
    "col.listings": "挂牌次数",
    "col.transferredOn": "转化日期",
    "col.way": "转化方式",
    "stage.listed": "挂牌",
    "stage.signed": "签约",
    "stage.trials_started": "开始试用",
    "stage.converted": "转为付费",
    "stage.returned": "退回",
    "stage.defaulted": "违约",
    "deadline.paid_in_time": "按期发放",
    "deadline.paid_late": "逾期发放",
    "deadline.open": "期限内待发放",
    "deadline.overdue": "逾期未发放",
    "bucket.0-30": "逾期1–30天",
    "bucket.31-90": "逾期31–90天",
    "bucket.91-180": "逾期91–180天",
    "bucket.181-365": "逾期181–365天",
    "bucket.>365": "逾期365天以上",
    "way.assignment": "转让",
    "way.licence": "许可",
    "way.ufpl": "先使用后付费",
    "way.equity": "作价投资",
    "def.heading": "统计口径",
    "def.title": "指标",
    "def.formula": "公式",
    "def.scope": "统计范围",
    "def.date_basis": "时间口径",
    "def.status_basis": "状态口径",
    "def.currency": "币种与单位",
    "def.as_of_position": "数据截至日志位置",
    "reports.year": "年度",
    "reports.annual": "科技成果转化年度报告（促进科技成果转化法第21条）",
    "reports.autm": "AUTM 口径许可摘要",
    "summary.transferred": "已转化",
    "summary.achievements": "成果数",
  },
  en: {
    "app.title": "Technology transfer dashboard",
    "colon": ": ",
    "unit.label": "Amounts in",
    "unit.auto": "Auto",
    "unit.yuan": "yuan (元)",
    "unit.wan": "10,000 yuan (万元)",
    "unit.yi": "100 million yuan (亿元)",
    "nav.signout": "Sign out",
    "history.title": "Record history",
    "history.event": "Event",
    "history.at": "Recorded at",
    "history.by": "Recorded by",
    "history.unknown": "(before actors were recorded)",
    "history.back": "Back to the dashboard",
    "login.title": "Sign in",
    "login.token": "API token",
    "login.submit": "Open the dashboard",
    "login.help": "On the server, create a token with ttledger token create --role regulator (a regulator) or --role institution --institution ID (a university or institute); it is shown once: paste it here. The token is kept in this browser tab only (sessionStorage) and is gone when the tab closes.",
    "login.invalid": "The token is invalid, revoked or malformed.",
    "role.admin": "administrator",
    "role.regulator": "regulator",
    "role.institution": "institution",
    "role.operator": "exchange",
    "note.operator": "The dashboard serves regulators and universities; exchanges use the API (/docs).",
    "period.label": "Period",
    "period.year": "Year",
    "period.quarter": "Quarter",
    "period.month": "Month",
    "formula.label": "Transfer-rate formula",
    "asof.label": "As of",
    "loading": "Loading…",
    "error": "Could not load",
    "none": "None",
    "total": "Total",
    "yes": "Yes",
    "no": "No",
    "unknown": "Unknown",
    "download.csv": "Download CSV",
    "download.xlsx": "Download XLSX",
    "panel.contractsPeriod": "Contract value by period",
    "panel.contractsKind": "Contract value by contract kind",
    "panel.contractsRegion": "Contract value by seller region",
    "panel.transferInstitution": "Transfer rate by institution",
    "panel.transferRegion": "Transfer rate by region",
    "panel.ufpl": "Use first, pay later: listed → trial → converted / returned",
    "panel.receivables": "Receivables ageing",
    "panel.audit": "Income distribution audit",
    "panel.deadlines": "Award deadlines (36 months after the income)",
    "panel.breachPolicies": "Policies below the statutory floor",
    "panel.breachAllocations": "Allocations below the statutory floor",
    "panel.register": "Register of achievements",
    "panel.reports": "Annual reports",
    "series.contractValue": "Contract value",
    "series.transactionValue": "Technology transaction value",
    "series.registeredValue": "Registered value",
    "series.rate": "Transfer rate (%)",
    "series.stages": "Use first, pay later",
    "series.notDue": "Not yet due",
    "series.deadlines": "Award deadlines",
    "col.period": "Period",
    "col.kind": "Contract kind",
    "col.region": "Region",
    "col.institution": "Institution",
    "col.contract": "Contract",
    "col.count": "Contracts",
    "col.numerator": "Transferred (numerator)",
    "col.denominator": "Denominator",
    "col.rate": "Rate",
    "col.signedValue": "Signed value",
    "col.conversionRate": "Trial conversion rate",
    "col.licenseeRevenue": "Licensees' new revenue",
    "col.insurance": "Insurance compensation",
    "col.outstanding": "Outstanding",
    "col.overdue": "Overdue",
    "col.receipts": "Receipts",
    "col.received": "Received",
    "col.deducted": "Deducted",
    "col.net": "Net income",
    "col.allocated": "Allocated",
    "col.paid": "Paid",
    "col.unpaid": "Unpaid",
    "col.teamUnpaid": "Inventor awards unpaid",
    "col.inventors": "Inventors",
    "col.lines": "Lines",
    "col.status": "Status",
    "col.version": "Policy version",
    "col.effectiveFrom": "Effective from",
    "col.pack": "Rule pack",
    "col.teamShare": "Team cash share",
    "col.floor": "Statutory floor",
    "col.findings": "Findings",
    "col.receipt": "Receipt",
    "col.receivedOn": "Received on",
    "col.team": "Team amount",
    "col.teamFloor": "Floor amount",
    "col.short": "Short by",
    "col.title": "Title",
    "col.ipType": "IP type",
    "col.field": "Technology field",
    "col.registeredOn": "Registered on",
    "col.grantedOn": "Granted on",
    "col.inRegister": "Separate register",
    "col.listings": "Listings",
    "col.transferredOn": "Transferred on",
    "col.way": "Way",
    "stage.listed": "Listed",
    "stage.signed": "Signed",
    "stage.trials_started": "Trial started",
    "stage.converted": "Converted",
    "stage.returned": "Returned",
    "stage.defaulted": "Defaulted",
    "deadline.paid_in_time": "Paid in time",
    "deadline.paid_late": "Paid late",
    "deadline.open": "Open, within the deadline",
    "deadline.overdue": "Overdue",
    "bucket.0-30": "1–30 days overdue",
    "bucket.31-90": "31–90 days overdue",
    "bucket.91-180": "91–180 days overdue",
    "bucket.181-365": "181–365 days overdue",
    "bucket.>365": "Over 365 days overdue",
    "way.assignment": "Assignment",
    "way.licence": "Licence",
    "way.ufpl": "Use first, pay later",
    "way.equity": "Equity contribution",
    "def.heading": "Statistical definition (统计口径)",
    "def.title": "Figure",
    "def.formula": "Formula",
    "def.scope": "Scope",
    "def.date_basis": "Date basis",
    "def.status_basis": "Status basis",
    "def.currency": "Currency and unit",
    "def.as_of_position": "Log position included",
    "reports.year": "Year",
    "reports.annual": "Annual transformation report (Law Art. 21)",
    "reports.autm": "AUTM-style licensing summary",
    "summary.transferred": "Transferred",
    "summary.achievements": "Achievements",
  },
};

// Codes → labels. Chinese as domain/enums.py CHINESE_LABELS; English from the code.
const CODES = {
  kind: {
    assignment: ["技术转让", "Assignment"],
    licence: ["技术许可", "Licence"],
    ufpl_licence: ["先使用后付费许可", "Use-first-pay-later licence"],
    equity_contribution: ["作价投资", "Equity contribution"],
    development: ["技术开发", "Development"],
    consulting: ["技术咨询", "Consulting"],
    service: ["技术服务", "Service"],
  },
  ip_type: {
    invention_patent: ["发明专利", "Invention patent"],
    utility_model: ["实用新型专利", "Utility model"],
    design: ["外观设计专利", "Design patent"],
    software_copyright: ["计算机软件著作权", "Software copyright"],
    ic_layout: ["集成电路布图设计", "IC layout design"],
    technical_secret: ["技术秘密", "Technical secret"],
    plant_variety: ["植物新品种", "Plant variety"],
    other: ["其他", "Other"],
  },
  field: {
    electronic_information: ["电子信息", "Electronic information"],
    advanced_manufacturing: ["先进制造", "Advanced manufacturing"],
    new_materials: ["新材料及其应用", "New materials"],
    biomedicine: ["生物、医药和医疗器械", "Biomedicine and medical devices"],
    new_energy_and_energy_saving: ["新能源与高效节能", "New energy and energy saving"],
    environmental_protection: ["环境保护与资源综合利用", "Environmental protection"],
    aerospace: ["航空航天", "Aerospace"],
    agriculture: ["现代农业", "Modern agriculture"],
    urban_construction_and_social_development: ["城市建设与社会发展", "Urban construction and social development"],
    nuclear: ["核应用", "Nuclear applications"],
    modern_transport: ["现代交通", "Modern transport"],
    other: ["其他", "Other"],
  },
  region: {
    "110000": ["北京市", "Beijing"], "120000": ["天津市", "Tianjin"], "130000": ["河北省", "Hebei"],
    "140000": ["山西省", "Shanxi"], "150000": ["内蒙古自治区", "Inner Mongolia"],
    "210000": ["辽宁省", "Liaoning"], "220000": ["吉林省", "Jilin"], "230000": ["黑龙江省", "Heilongjiang"],
    "310000": ["上海市", "Shanghai"], "320000": ["江苏省", "Jiangsu"], "330000": ["浙江省", "Zhejiang"],
    "340000": ["安徽省", "Anhui"], "350000": ["福建省", "Fujian"], "360000": ["江西省", "Jiangxi"],
    "370000": ["山东省", "Shandong"], "410000": ["河南省", "Henan"], "420000": ["湖北省", "Hubei"],
    "430000": ["湖南省", "Hunan"], "440000": ["广东省", "Guangdong"], "450000": ["广西壮族自治区", "Guangxi"],
    "460000": ["海南省", "Hainan"], "500000": ["重庆市", "Chongqing"], "510000": ["四川省", "Sichuan"],
    "520000": ["贵州省", "Guizhou"], "530000": ["云南省", "Yunnan"], "540000": ["西藏自治区", "Xizang"],
    "610000": ["陕西省", "Shaanxi"], "620000": ["甘肃省", "Gansu"], "630000": ["青海省", "Qinghai"],
    "640000": ["宁夏回族自治区", "Ningxia"], "650000": ["新疆维吾尔自治区", "Xinjiang"],
    "710000": ["台湾省", "Taiwan"], "810000": ["香港特别行政区", "Hong Kong"], "820000": ["澳门特别行政区", "Macao"],
  },
};

export const LANGUAGES = ["zh", "en"];
const STORAGE_KEY = "ttledger.dashboard.lang";
let current = "zh";

export function loadLanguage() {
  const stored = window.localStorage.getItem(STORAGE_KEY);
  current = LANGUAGES.includes(stored) ? stored : "zh";
  return current;
}

export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "zh";
  window.localStorage.setItem(STORAGE_KEY, current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  return current;
}

export function language() {
  return current;
}

/** The label of ``key`` in the current language (the key itself if there is none). */
export function t(key) {
  return TEXT[current][key] ?? TEXT.zh[key] ?? key;
}

/** The label of a code (``kind``, ``ip_type``, ``field``, ``region``); unknown codes as they are. */
export function code(family, value) {
  if (value === null || value === undefined) return t("unknown");
  const labels = CODES[family]?.[value];
  if (!labels) return String(value);
  return current === "zh" ? labels[0] : labels[1];
}

/** A label with its unit: 合同成交额（万元） / Contract value (10,000 yuan). */
export function withUnit(label, unitName) {
  return current === "zh" ? `${label}（${unitName}）` : `${label} (${unitName})`;
}

// --- a stopped projection: always in both languages, Chinese first (an alarm is read by everyone) ------

const PROJECTION_NAMES = {
  contracts: ["技术合同", "contracts"],
  receivables: ["应收账款", "receivables"],
  transfer: ["成果转化", "transfer"],
  distribution: ["收益分配", "distribution"],
};

function projectionName(name) {
  const [zh, en] = PROJECTION_NAMES[name] || [name, name];
  return { zh: `${zh}（${name}）`, en: en === name ? name : `${en}` };
}

/** The banner's lines for the stopped projections of /readyz: [{zh, en}, ...]. */
export function stoppedLines(projections) {
  return projections.map((p) => {
    const name = projectionName(p.name);
    const error = p.message ? `${p.error}: ${p.message}` : p.error;
    return {
      zh: `统计投影已停止：${name.zh} 停在日志位置 ${p.position}，第 ${p.failed_at} 号事件无法处理（${error}）。依赖它的统计数据停留在该位置；修复后运行 ttledger rebuild ${p.name}。`,
      en: `Projection stopped: ${name.en} stays at log position ${p.position}; event ${p.failed_at} could not be applied (${error}). Figures that depend on it stay at that position; after a fix, run ttledger rebuild ${p.name}.`,
    };
  });
}

/** The note on a panel whose answer carries a ``stale`` member (api/staleness.py): {zh, en}. */
export function staleNote(stale) {
  const head = stale.log_head ?? "?";
  const parts = stale.projections.map((p) => {
    const name = projectionName(p.projection);
    return p.state === "rebuilding"
      ? { zh: `${name.zh} 正在重建，位于 ${p.position}`, en: `${name.en} is being rebuilt, at ${p.position}` }
      : { zh: `${name.zh} 已停止于 ${p.position}`, en: `${name.en} stopped at ${p.position}` };
  });
  const lowest = Math.min(...stale.projections.map((p) => p.position));
  return {
    zh: `数据可能已过时：截至日志位置 ${lowest}（日志头 ${head}）；${parts.map((p) => p.zh).join("；")}。`,
    en: `Figures may be stale: as of log position ${lowest} (log head ${head}); ${parts.map((p) => p.en).join("; ")}.`,
  };
}
