// Label selectors as k8s.io/apimachinery/pkg/labels parses and matches them, and metav1.LabelSelectorAsSelector.
// Error texts are upstream's (the label key/value messages as of Kubernetes 1.32, which Strata reports as its version).
import type { LabelSelector } from './types.ts';

export class LabelSelectorParseError extends Error {
  override name = 'LabelSelectorParseError';
}

export interface LabelSelectorMatcher {
  matches(labels: Record<string, string> | undefined): boolean;
  /** True when the selector does not restrict anything (matches everything). */
  readonly empty: boolean;
  toString(): string;
}

/** selection.Operator values. */
type Operator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';
const binaryOperators: Operator[] = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];

interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

// ---- validation messages (util/validation) ----

const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const qualifiedNameErrMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const qualifiedNameRegexp = new RegExp(`^${qualifiedNameFmt}$`);
const labelValueFmt = `(${qualifiedNameFmt})?`;
const labelValueErrMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const labelValueRegexp = new RegExp(`^${labelValueFmt}$`);
const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1123SubdomainErrMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const dns1123SubdomainRegexp = new RegExp(`^${dns1123SubdomainFmt}$`);

const maxLenError = (length: number) => `must be no more than ${length} characters`;
const emptyError = 'must be non-empty';
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}
// Go measures string length in bytes.
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

function validateDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 253) errs.push(maxLenError(253));
  if (!dns1123SubdomainRegexp.test(value)) errs.push(regexError(dns1123SubdomainErrMsg, dns1123SubdomainFmt, 'example.com'));
  return errs;
}

/** IsQualifiedName: the rules for a label key. Returns upstream's messages, empty when valid. */
export function validateLabelKey(key: string): string[] {
  const errs: string[] = [];
  const parts = key.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push(`prefix part ${emptyError}`);
    else errs.push(...validateDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')}` +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push(`name part ${emptyError}`);
  else if (byteLength(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!qualifiedNameRegexp.test(name)) errs.push(`name part ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

/** IsValidLabelValue. Returns upstream's messages, empty when valid. */
export function validateLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!labelValueRegexp.test(value)) errs.push(regexError(labelValueErrMsg, labelValueFmt, 'MyValue', 'my_value', '12345'));
  return errs;
}

// ---- field.Error formatting ----

/** Go's %q (strconv.Quote) for the strings selectors carry. */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-1][0-9a-f])|\u007f/g, (m, hex: string | undefined) => (hex ? `\\x${hex}` : '\\x7f'));
}
/** Go's %#v of a []string. */
const goStringSlice = (values: string[] | undefined) =>
  values === undefined ? '[]string(nil)' : `[]string{${values.map(goQuote).join(', ')}}`;
const invalid = (path: string, shownValue: string, detail: string) => `${path}: Invalid value: ${shownValue}: ${detail}`;
/** utilerrors.NewAggregate(...).Error(): one message alone, several deduplicated in brackets. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

/** labels.NewRequirement: the errors of one requirement, or undefined. `values` is undefined for a nil slice. */
function requirementErrors(key: string, operator: Operator, values: string[] | undefined): string | undefined {
  const errs: string[] = [];
  const keyErrs = validateLabelKey(key);
  if (keyErrs.length > 0) errs.push(invalid('key', goQuote(key), keyErrs.join('; ')));
  const vals = values ?? [];
  switch (operator) {
    case 'in':
    case 'notin':
      if (vals.length === 0) errs.push(invalid('values', goStringSlice(values), "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (vals.length !== 1) errs.push(invalid('values', goStringSlice(values), 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (vals.length !== 0) errs.push(invalid('values', goStringSlice(values), 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (vals.length !== 1) errs.push(invalid('values', goStringSlice(values), "for 'Gt', 'Lt' operators, exactly one value is required"));
      vals.forEach((v, i) => {
        if (!isInt64(v)) errs.push(invalid(`values[${i}]`, goQuote(v), "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
  }
  vals.forEach((v, i) => {
    const valueErrs = validateLabelValue(v);
    if (valueErrs.length > 0) errs.push(invalid(`values[${i}][${key}]`, goQuote(v), valueErrs.join('; ')));
  });
  return errs.length > 0 ? aggregate(errs) : undefined;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
function isInt64(s: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(s)) return false;
  const n = BigInt(s);
  return n >= INT64_MIN && n <= INT64_MAX;
}

// ---- matching and printing ----

function requirementMatches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(value!);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !isInt64(value!) || r.values.length !== 1 || !isInt64(r.values[0]!)) return false;
      const [actual, bound] = [BigInt(value!), BigInt(r.values[0]!)];
      return r.operator === 'gt' ? actual > bound : actual < bound;
    }
  }
}

const sortedValues = (values: string[]) => [...values].sort();

function requirementToString(r: Requirement): string {
  const prefix = r.operator === '!' ? '!' : '';
  if (r.operator === 'exists' || r.operator === '!') return prefix + r.key;
  const op = { in: ' in ', notin: ' notin ', '=': '=', '==': '==', '!=': '!=', gt: '>', lt: '<' }[r.operator];
  const values = r.values.length === 1 ? r.values[0]! : sortedValues(r.values).join(',');
  return r.operator === 'in' || r.operator === 'notin' ? `${r.key}${op}(${values})` : `${r.key}${op}${values}`;
}

class RequirementsSelector implements LabelSelectorMatcher {
  readonly requirements: readonly Requirement[];
  constructor(requirements: Requirement[]) {
    // Sorted by key for a deterministic String(), as upstream does.
    this.requirements = [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  get empty(): boolean {
    return this.requirements.length === 0;
  }
  matches(labels: Record<string, string> | undefined): boolean {
    return this.requirements.every((r) => requirementMatches(r, labels ?? {}));
  }
  toString(): string {
    return this.requirements.map(requirementToString).join(',');
  }
}

/** labels.Nothing(): the selector of a nil metav1.LabelSelector. */
const nothingSelector: LabelSelectorMatcher = { matches: () => false, empty: false, toString: () => '' };

// ---- the string syntax ----

type Token =
  | 'error' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'identifier' | 'in' | '<' | '!=' | 'notin' | '(';
const literalTokens = new Map<string, Token>([
  [')', ')'], [',', ','], ['!', '!'], ['==', '=='], ['=', '='], ['>', '>'], ['in', 'in'], ['<', '<'],
  ['!=', '!='], ['notin', 'notin'], ['(', '('],
]);
interface ScannedItem {
  tok: Token;
  literal: string;
}

const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecialSymbol = (c: string) => '=!(),><'.includes(c);

function lex(s: string): ScannedItem[] {
  const items: ScannedItem[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos]!)) pos++;
    if (pos >= s.length) {
      items.push({ tok: 'eos', literal: '' });
      return items;
    }
    if (isSpecialSymbol(s[pos]!)) {
      // Longest run of symbols that is still a known operator.
      let buffer = '';
      let last: ScannedItem | undefined;
      while (pos < s.length && isSpecialSymbol(s[pos]!)) {
        buffer += s[pos];
        const tok = literalTokens.get(buffer);
        if (tok) last = { tok, literal: buffer };
        else if (last) break;
        pos++;
      }
      items.push(last ?? { tok: 'error', literal: `error expected: keyword found '${buffer}'` });
    } else {
      const start = pos;
      while (pos < s.length && !isSpecialSymbol(s[pos]!) && !isWhitespace(s[pos]!)) pos++;
      const word = s.slice(start, pos);
      items.push({ tok: literalTokens.get(word) ?? 'identifier', literal: word });
    }
  }
}

class Parser {
  private position = 0;
  private readonly items: ScannedItem[];
  constructor(input: string) {
    this.items = lex(input);
  }

  // In a values context the keywords 'in' and 'notin' are plain identifiers.
  private lookahead(valuesContext = true): ScannedItem {
    return this.asContext(this.items[this.position]!, valuesContext);
  }
  private consume(valuesContext = true): ScannedItem {
    return this.asContext(this.items[this.position++]!, valuesContext);
  }
  private asContext(item: ScannedItem, valuesContext: boolean): ScannedItem {
    return valuesContext && (item.tok === 'in' || item.tok === 'notin') ? { tok: 'identifier', literal: item.literal } : item;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      const { tok, literal } = this.lookahead();
      if (tok === 'eos') return requirements;
      if (tok !== 'identifier' && tok !== '!') throw new Error(`found '${literal}', expected: !, identifier, or 'end of string'`);
      try {
        requirements.push(this.parseRequirement());
      } catch (err) {
        throw new Error(`unable to parse requirement: ${(err as Error).message}`);
      }
      const next = this.consume();
      if (next.tok === 'eos') return requirements;
      if (next.tok !== ',') throw new Error(`found '${next.literal}', expected: ',' or 'end of string'`);
      const after = this.lookahead();
      if (after.tok !== 'identifier' && after.tok !== '!') throw new Error(`found '${after.literal}', expected: identifier after ','`);
    }
  }

  private parseRequirement(): Requirement {
    let operator: Operator | undefined;
    let item = this.consume();
    if (item.tok === '!') {
      operator = '!';
      item = this.consume();
    }
    if (item.tok !== 'identifier') throw new Error(`found '${item.literal}', expected: identifier`);
    const key = item.literal;
    const keyErrs = validateLabelKey(key);
    if (keyErrs.length > 0) throw new Error(invalid('<nil>', goQuote(key), keyErrs.join('; ')));
    const next = this.lookahead().tok;
    if (next === 'eos' || next === ',') operator ??= 'exists';
    if (operator === 'exists' || operator === '!') return this.newRequirement(key, operator, []);
    operator = this.parseOperator();
    const values = operator === 'in' || operator === 'notin' ? this.parseValues() : this.parseExactValue();
    return this.newRequirement(key, operator, [...new Set(values)].sort());
  }

  private newRequirement(key: string, operator: Operator, values: string[]): Requirement {
    const err = requirementErrors(key, operator, values);
    if (err) throw new Error(err);
    return { key, operator, values };
  }

  private parseOperator(): Operator {
    const { tok, literal } = this.consume(false);
    const operators: Partial<Record<Token, Operator>> = { in: 'in', '=': '=', '==': '==', '>': 'gt', '<': 'lt', notin: 'notin', '!=': '!=' };
    const op = operators[tok];
    if (!op) throw new Error(`found '${literal}', expected: ${binaryOperators.join(', ')}`);
    return op;
  }

  private parseValues(): string[] {
    const open = this.consume();
    if (open.tok !== '(') throw new Error(`found '${open.literal}' expected: '('`);
    const { tok, literal } = this.lookahead();
    if (tok === ')') {
      this.consume();
      return [''];
    }
    if (tok !== 'identifier' && tok !== ',') throw new Error(`found '${literal}', expected: ',', ')' or identifier`);
    const values = this.parseIdentifiersList();
    if (this.consume().tok !== ')') throw new Error(`found '${literal}', expected: ')'`);
    return values;
  }

  private parseIdentifiersList(): string[] {
    const values = new Set<string>();
    for (;;) {
      const { tok, literal } = this.consume();
      if (tok === 'identifier') {
        values.add(literal);
        const next = this.lookahead();
        if (next.tok === ',') continue;
        if (next.tok === ')') return [...values];
        throw new Error(`found '${next.literal}', expected: ',' or ')'`);
      }
      if (tok !== ',') throw new Error(`found '${literal}', expected: ',', or identifier`);
      // Empty entries around commas are the empty value.
      if (values.size === 0) values.add('');
      const next = this.lookahead().tok;
      if (next === ')') {
        values.add('');
        return [...values];
      }
      if (next === ',') values.add('');
    }
  }

  private parseExactValue(): string[] {
    const next = this.lookahead().tok;
    if (next === 'eos' || next === ',') return [''];
    const { tok, literal } = this.consume();
    if (tok === 'identifier') return [literal];
    throw new Error(`found '${literal}', expected: identifier`);
  }
}

/** labels.Parse: the string syntax of ?labelSelector= and kubectl -l. */
export function parseLabelSelector(s: string): LabelSelectorMatcher {
  try {
    return new RequirementsSelector(new Parser(s).parse());
  } catch (err) {
    throw new LabelSelectorParseError((err as Error).message);
  }
}

const selectorOperators: Record<string, Operator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/** metav1.LabelSelectorAsSelector: nil matches nothing, empty matches everything. */
export function labelSelectorFromObject(sel: LabelSelector | undefined | null): LabelSelectorMatcher {
  if (sel === undefined || sel === null) return nothingSelector;
  const requirements: Requirement[] = [];
  // Upstream walks a Go map (random order); sorted keys make the first reported error deterministic.
  for (const key of Object.keys(sel.matchLabels ?? {}).sort()) {
    const value = sel.matchLabels![key]!;
    const err = requirementErrors(key, '=', [value]);
    if (err) throw new LabelSelectorParseError(err);
    requirements.push({ key, operator: '=', values: [value] });
  }
  for (const expr of sel.matchExpressions ?? []) {
    const operator = Object.hasOwn(selectorOperators, expr.operator) ? selectorOperators[expr.operator] : undefined;
    if (!operator) throw new LabelSelectorParseError(`${goQuote(String(expr.operator))} is not a valid pod selector operator`);
    const err = requirementErrors(expr.key, operator, expr.values);
    if (err) throw new LabelSelectorParseError(err);
    requirements.push({ key: expr.key, operator, values: [...(expr.values ?? [])] });
  }
  return new RequirementsSelector(requirements);
}

/** The selector's canonical string, as Selector.String(). */
export function selectorToString(sel: LabelSelectorMatcher): string {
  return sel.toString();
}
