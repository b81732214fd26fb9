// Money on the workbench: the API speaks integer fen (分); people read and type 元 with two decimals.
// Both ways are exact string / BigInt arithmetic: a float never touches an amount.

export const MAX_FEN = 100000000000000n; // 10^14 fen, the API's bound (1万亿元)

function grouped(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Integer fen (Number, BigInt or decimal string) as 元 with two decimals: 1234567 → "12,345.67". */
export function formatFen(fen) {
  if (fen === null || fen === undefined || fen === "") return "";
  const value = BigInt(fen);
  const negative = value < 0n;
  const size = negative ? -value : value;
  return `${negative ? "-" : ""}${grouped((size / 100n).toString())}.${(size % 100n).toString().padStart(2, "0")}`;
}

/**
 * What a person typed in 元 ("12345.67", "1,000", "-3.5") as integer fen, exactly.
 * Answers {fen} (a Number, exact since |fen| ≤ 10^14 < 2^53) or {error: {zh, en}}.
 */
export function parseYuan(text) {
  const raw = String(text ?? "").trim().replace(/[,，\s]/g, "").replace(/^¥|元$/g, "");
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(raw);
  if (!match) return { error: { zh: "请输入金额（元），如 12345.67", en: "enter an amount in yuan, e.g. 12345.67" } };
  const [, sign, whole, decimals = ""] = match;
  if (decimals.length > 2) return { error: { zh: "金额最多两位小数（分）", en: "at most two decimals (fen)" } };
  const fen = BigInt(whole) * 100n + BigInt(decimals.padEnd(2, "0") || "0");
  if (fen > MAX_FEN) return { error: { zh: "金额超出范围（不超过 1 万亿元）", en: "amount out of range (at most 10^12 yuan)" } };
  return { fen: Number(sign === "-" ? -fen : fen) };
}

/** Integer fen as the text a 元 input starts with: 1234567 → "12345.67". */
export function fenToInput(fen) {
  if (fen === null || fen === undefined) return "";
  return formatFen(fen).replace(/,/g, "");
}
