// resource.Quantity as k8s.io/apimachinery parses, compares and prints it. Values are exact: parsing rounds up (away
// from zero) to the nano unit, as upstream does, and the amount is kept as a bigint count of nano-units.

export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

export interface Quantity {
  /** The exact amount in units of 10^-9. */
  readonly nano: bigint;
  /** ceil(amount * 1000) away from zero, as Quantity.MilliValue(). */
  readonly milli: bigint;
  readonly format: QuantityFormat;
  /** The input text when upstream keeps it as the quantity's String() (it was already canonical). */
  readonly parsedText?: string;
}

const splitREString = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const errFormatWrong = `quantities must match the regular expression '${splitREString}'`;
const errNumeric = 'unable to parse numeric part of quantity';
const errSuffix = "unable to parse quantity's suffix";

export class QuantityParseError extends Error {
  override name = 'QuantityParseError';
}

const NANO_PER_UNIT = 1_000_000_000n;
const NANO_PER_MILLI = 1_000_000n;
const MAX_INT64 = (1n << 63n) - 1n;
const MAX_INT32 = 2147483647;
// Decimal exponents past this would need bigints of absurd size; upstream has no such bound but nothing real is this large.
const MAX_DECIMAL_EXPONENT = 4096;

interface Suffix {
  base: 2 | 10;
  exponent: number;
  format: QuantityFormat;
}

const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffixByExponent = new Map(Object.entries(decimalSuffixes).map(([s, e]) => [e, s]));
const binarySuffixByExponent = new Map(Object.entries(binarySuffixes).map(([s, e]) => [e, s]));

function interpretSuffix(suffix: string): Suffix | undefined {
  if (Object.hasOwn(decimalSuffixes, suffix)) return { base: 10, exponent: decimalSuffixes[suffix]!, format: 'DecimalSI' };
  if (Object.hasOwn(binarySuffixes, suffix)) return { base: 2, exponent: binarySuffixes[suffix]!, format: 'BinarySI' };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    // strconv.ParseInt syntax, then the int32 bound upstream enforces on exponents.
    if (!/^[+-]?[0-9]+$/.test(suffix.slice(1))) return undefined;
    const exponent = Number(suffix.slice(1));
    if (Math.abs(exponent) > MAX_INT32) return undefined;
    return { base: 10, exponent, format: 'DecimalExponent' };
  }
  return undefined;
}

interface ScannedQuantity {
  positive: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

// Port of upstream's parseQuantityString scanner: permissive about digits, strict about what follows the suffix.
function scanQuantity(str: string): ScannedQuantity {
  const out: ScannedQuantity = { positive: true, value: '', num: '', denom: '', suffix: '' };
  const end = str.length;
  let pos = 0;
  if (str[0] === '-') {
    out.positive = false;
    pos++;
  } else if (str[0] === '+') pos++;
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) {
    out.num = '0';
    out.value = '0';
    return out;
  }
  let i = pos;
  while (i < end && isDigit(str[i])) i++;
  out.num = str.slice(pos, i);
  if (i >= end) {
    out.value = str;
    return out;
  }
  pos = i;
  if (out.num === '') out.num = '0';
  if (str[pos] === '.') {
    pos++;
    i = pos;
    while (i < end && isDigit(str[i])) i++;
    out.denom = str.slice(pos, i);
    if (i >= end) {
      out.value = str;
      return out;
    }
    pos = i;
  }
  out.value = str.slice(0, pos);
  const suffixStart = pos;
  while (pos < end && 'eEinumkKMGTP'.includes(str[pos]!)) pos++;
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  while (pos < end && isDigit(str[pos])) pos++;
  if (pos < end) throw new QuantityParseError(errFormatWrong);
  out.suffix = str.slice(suffixStart);
  return out;
}

const abs = (n: bigint) => (n < 0n ? -n : n);
const pow10 = (e: number) => 10n ** BigInt(e);

/** Divides, rounding away from zero. */
function divideAwayFromZero(n: bigint, d: bigint): bigint {
  const q = n / d;
  if (q * d === n) return q;
  return n < 0n ? q - 1n : q + 1n;
}

function makeQuantity(nano: bigint, format: QuantityFormat, parsedText?: string): Quantity {
  const q = { nano, milli: divideAwayFromZero(nano, NANO_PER_MILLI), format };
  return parsedText === undefined ? q : { ...q, parsedText };
}

export function parseQuantity(str: string): Quantity {
  if (str.length === 0) throw new QuantityParseError(errFormatWrong);
  if (str === '0') return makeQuantity(0n, 'DecimalSI', str);
  const { positive, value, num, denom, suffix } = scanQuantity(str);
  const s = interpretSuffix(suffix);
  if (!s) throw new QuantityParseError(errSuffix);

  // Upstream's int64 fast path: it decides when the input string is kept as the canonical form.
  let precision: number;
  if (s.base === 10) precision = 18 - (num.length + denom.length);
  else precision = s.exponent >= 0 && denom === '' ? 15 - num.length - Math.trunc((s.exponent * 3) / 10) - 1 : -1;
  const scale = (s.base === 10 ? s.exponent : 0) - denom.length;
  if (precision >= 0 && scale >= -9) {
    const shifted = num + denom;
    const digits = BigInt(shifted);
    const magnitude = digits * (s.base === 2 ? 1n << BigInt(s.exponent) : 1n);
    if (magnitude <= MAX_INT64) {
      const nano = (positive ? magnitude : -magnitude) * pow10(scale + 9);
      const canonical =
        s.base === 2
          ? s.exponent % 10 === 0 && (digits & 7n) !== 0n
          : scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
      return makeQuantity(nano, s.format, canonical ? str : undefined);
    }
  }

  if (!/[0-9]/.test(value)) throw new QuantityParseError(errNumeric);
  const digits = BigInt(num + denom);
  let magnitude: bigint;
  if (s.base === 2) {
    magnitude = divideAwayFromZero(digits * (1n << BigInt(s.exponent)) * NANO_PER_UNIT, pow10(denom.length));
  } else {
    const nanoExponent = s.exponent - denom.length + 9;
    if (nanoExponent > MAX_DECIMAL_EXPONENT) throw new QuantityParseError(errNumeric);
    if (nanoExponent >= 0) magnitude = digits * pow10(nanoExponent);
    else if (-nanoExponent > num.length + denom.length) magnitude = digits === 0n ? 0n : 1n;
    else magnitude = divideAwayFromZero(digits, pow10(-nanoExponent));
  }
  let format = s.format;
  if (format === 'BinarySI') {
    if (magnitude > MAX_INT64 * NANO_PER_UNIT) magnitude = MAX_INT64 * NANO_PER_UNIT;
    if (magnitude > 0n && magnitude < NANO_PER_UNIT) format = 'DecimalSI';
  }
  return makeQuantity(positive ? magnitude : -magnitude, format);
}

export function tryParseQuantity(s: unknown): Quantity | undefined {
  if (typeof s !== 'string') return undefined;
  try {
    return parseQuantity(s);
  } catch (err) {
    if (err instanceof QuantityParseError) return undefined;
    throw err;
  }
}

/** The integer value rounded away from zero, as Quantity.Value(). */
export function quantityValue(q: Quantity): bigint {
  return divideAwayFromZero(q.nano, NANO_PER_UNIT);
}

// Parsed values by their text, for the hot paths that compare the same few quantities over and over (a claim's size
// against every candidate PV on every node, every pod's requests on each update). Bounded; failures are not kept.
const valueByText = new Map<string, bigint>();
const milliByText = new Map<string, bigint>();
const maxCachedTexts = 4096;

function cached(cache: Map<string, bigint>, text: string, compute: (q: Quantity) => bigint): bigint {
  let n = cache.get(text);
  if (n === undefined) {
    n = compute(parseQuantity(text));
    if (cache.size >= maxCachedTexts) cache.clear();
    cache.set(text, n);
  }
  return n;
}

/** quantityValue(parseQuantity(text)), parsed once per distinct text; throws QuantityParseError as parseQuantity does. */
export function quantityValueOf(text: string): bigint {
  return cached(valueByText, text, quantityValue);
}

/** parseQuantity(text).milli, parsed once per distinct text; throws QuantityParseError as parseQuantity does. */
export function quantityMilliOf(text: string): bigint {
  return cached(milliByText, text, (q) => q.milli);
}

export function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nano < b.nano ? -1 : a.nano > b.nano ? 1 : 0;
}

/** Strips factors of base from a non-zero value, as upstream's removeInt64Factors. */
function removeFactors(value: bigint, base: bigint): [bigint, number] {
  let rest = abs(value);
  let times = 0;
  while (rest >= base && rest % base === 0n) {
    rest /= base;
    times++;
  }
  return [value < 0n ? -rest : rest, times];
}

function formatBase10(nano: bigint, format: QuantityFormat): string {
  let [mantissa, exponent] = removeFactors(nano, 10n);
  exponent -= 9;
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  const si = format === 'DecimalSI' ? decimalSuffixByExponent.get(exponent) : undefined;
  // Past "E" or below "n" DecimalSI has no suffix: exponent notation keeps the magnitude (as upstream now does).
  const suffix = si ?? (exponent === 0 ? '' : `e${exponent}`);
  return `${mantissa}${suffix}`;
}

/** Canonical form, as Quantity.String(). */
export function formatQuantity(q: Quantity): string {
  if (q.parsedText !== undefined) return q.parsedText;
  if (q.nano === 0n) return '0';
  if (q.format !== 'BinarySI') return formatBase10(q.nano, q.format);
  // Small or fractional binary quantities print as DecimalSI so no precision is lost.
  if (abs(q.nano) < 1024n * NANO_PER_UNIT || q.nano % NANO_PER_UNIT !== 0n) return formatBase10(q.nano, 'DecimalSI');
  const [mantissa, times] = removeFactors(q.nano / NANO_PER_UNIT, 1024n);
  const suffix = times === 0 ? '' : binarySuffixByExponent.get(times * 10);
  return suffix === undefined ? formatBase10(q.nano, 'DecimalExponent') : `${mantissa}${suffix}`;
}

/** A quantity of n units (bytes, for storage), as resource.NewQuantity(n, format). */
export function quantityFromBytes(n: bigint, format: QuantityFormat = 'BinarySI'): Quantity {
  return makeQuantity(n * NANO_PER_UNIT, format);
}

/** The BinarySI canonical string of a byte count: 1073741824 → "1Gi". */
export function bytesToQuantityString(n: bigint | number): string {
  return formatQuantity(quantityFromBytes(BigInt(n)));
}
