// Amounts as Chinese statistics print them: in 元, 万元 or 亿元, with two decimals.
//
// The API gives integer fen. Table figures are formatted from that integer with
// BigInt arithmetic only (exact, half-up to 0.01 of the unit); a float is never
// used for a printed figure. Charts plot Number(fen) / divisor: a plot is not a
// figure anyone copies.

export const UNITS = Object.freeze({
  yuan: 100n, // 1 元 = 100 fen
  wan: 1000000n, // 1 万元 = 10,000 元
  yi: 10000000000n, // 1 亿元 = 100,000,000 元
});

const WAN_FEN = 1000000;
const YI_FEN = 10000000000;

/** The unit a reader expects for amounts of this size: 亿元 from 1亿, 万元 from 1万, else 元. */
export function pickUnit(fens) {
  let largest = 0;
  for (const fen of fens) {
    const size = Math.abs(Number(fen));
    if (size > largest) largest = size;
  }
  if (largest >= YI_FEN) return "yi";
  if (largest >= WAN_FEN) return "wan";
  return "yuan";
}

function grouped(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Integer fen (Number, BigInt or decimal string) in ``unit``, exact: "1,234.50". */
export function formatFen(fen, unit) {
  const value = BigInt(fen);
  const divisor = UNITS[unit];
  const negative = value < 0n;
  const size = negative ? -value : value;
  const hundredths = (size * 200n + divisor) / (2n * divisor); // round half up
  const whole = grouped((hundredths / 100n).toString());
  const cents = (hundredths % 100n).toString().padStart(2, "0");
  return `${negative && hundredths !== 0n ? "-" : ""}${whole}.${cents}`;
}

/** For plotting only: the amount in ``unit`` as a Number. */
export function plotValue(fen, unit) {
  return Number(fen) / Number(UNITS[unit]);
}

/** A count with thousands separators. */
export function formatCount(count) {
  return count === null || count === undefined ? "" : grouped(String(count));
}

/** A percentage the API gives as a decimal string ("75.00"); null when there is no denominator. */
export function formatPercent(percent) {
  return percent === null || percent === undefined ? "—" : `${percent}%`;
}
