import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LabelSelectorParseError, labelSelectorFromObject, parseLabelSelector, selectorToString, validateLabelKey, validateLabelValue,
} from './labels.ts';

const nameRegexMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const valueRegexMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

// TestSelectorParse: canonical strings of valid selectors.
test('TestSelectorParse', () => {
  const cases: Array<[string, string]> = [
    ['', ''], ['x=a,y=b,z=c', 'x=a,y=b,z=c'], ['x!=a,y=b', 'x!=a,y=b'], ['x=,z= ', 'x=,z='], ['x= ,z= ', 'x=,z='],
    ['!x', '!x'], ['x>1', 'x>1'], ['x<1,y>1', 'x<1,y>1'], ['x==a', 'x==a'],
    ['x in (foo,,baz),y,z notin ()', 'x in (,baz,foo),y,z notin ()'], ['z,y,x', 'x,y,z'], ['x in (b,a,b)', 'x in (a,b)'],
    ['x in (in,notin)', 'x in (in,notin)'], ['example.com/x==y', 'example.com/x==y'],
  ];
  for (const [input, expected] of cases) assert.equal(selectorToString(parseLabelSelector(input)), expected, input);
});

test('TestSelectorParse errors', () => {
  const cases: Array<[string, string]> = [
    ['x=a||y=b', `unable to parse requirement: values[0][x]: Invalid value: "a||y": ${valueRegexMsg}`],
    ['x==a==b', "found '==', expected: ',' or 'end of string'"],
    ['x=a,', "found '', expected: identifier after ','"],
    ['=a', "found '=', expected: !, identifier, or 'end of string'"],
    ['x in a', "unable to parse requirement: found 'a' expected: '('"],
    ['x in (a b)', "unable to parse requirement: found 'b', expected: ',' or ')'"],
    ['a b', 'unable to parse requirement: found \'b\', expected: in, notin, =, ==, !=, gt, lt'],
    ['-a=b', `unable to parse requirement: <nil>: Invalid value: "-a": name part ${nameRegexMsg}`],
    ['x=-bad', `unable to parse requirement: values[0][x]: Invalid value: "-bad": ${valueRegexMsg}`],
    ['x>a', 'unable to parse requirement: values[0]: Invalid value: "a": for \'Gt\', \'Lt\' operators, the value must be an integer'],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseLabelSelector(input), (err: unknown) => err instanceof LabelSelectorParseError && err.message === message, input);
  }
});

// TestEverything/TestSelectorMatches.
test('TestSelectorMatches', () => {
  const labels = { x: 'y', z: 'w', n: '5' };
  const matching = ['', 'x=y', 'x==y', 'x=y,z=w', 'x!=z', 'x in (y,z)', 'a notin (b)', '!a', 'x', 'n>4', 'n<6', 'x in (y),z'];
  const failing = ['x=z', 'x!=y', 'x in (z)', 'x notin (y)', '!x', 'a', 'n>5', 'n<5', 'x>1', 'x=y,a'];
  for (const s of matching) assert.equal(parseLabelSelector(s).matches(labels), true, s);
  for (const s of failing) assert.equal(parseLabelSelector(s).matches(labels), false, s);
  assert.equal(parseLabelSelector('a notin (b)').matches(undefined), true);
  assert.equal(parseLabelSelector('').empty, true);
  assert.equal(parseLabelSelector('x').empty, false);
});

// TestLabelSelectorAsSelector.
test('TestLabelSelectorAsSelector', () => {
  assert.equal(labelSelectorFromObject(null).matches({ a: 'b' }), false, 'nil matches nothing');
  assert.equal(labelSelectorFromObject(undefined).empty, false);
  assert.equal(labelSelectorFromObject({}).matches({ a: 'b' }), true, 'empty matches everything');
  assert.equal(labelSelectorFromObject({}).empty, true);
  const sel = labelSelectorFromObject({
    matchLabels: { foo: 'bar', baz: 'qux' },
    matchExpressions: [
      { key: 'zone', operator: 'In', values: ['b', 'a'] }, { key: 'gone', operator: 'DoesNotExist' },
      { key: 'tier', operator: 'NotIn', values: ['db'] }, { key: 'app', operator: 'Exists' },
    ],
  });
  assert.equal(sel.toString(), 'app,baz=qux,foo=bar,!gone,tier notin (db),zone in (a,b)');
  assert.equal(sel.matches({ foo: 'bar', baz: 'qux', zone: 'a', app: 'x' }), true);
  assert.equal(sel.matches({ foo: 'bar', baz: 'qux', zone: 'a', app: 'x', gone: '' }), false);
  assert.equal(sel.matches({ foo: 'bar', baz: 'qux', zone: 'c', app: 'x' }), false);
});

test('TestLabelSelectorAsSelector errors', () => {
  const cases: Array<[Parameters<typeof labelSelectorFromObject>[0], string]> = [
    [{ matchExpressions: [{ key: 'a', operator: 'Gt' as never, values: ['1'] }] }, '"Gt" is not a valid pod selector operator'],
    [{ matchExpressions: [{ key: 'a', operator: 'In' }] }, "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x', 'y'] }] }, 'values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist'],
    [{ matchLabels: { 'a b': 'x' } }, `key: Invalid value: "a b": name part ${nameRegexMsg}`],
    [
      { matchExpressions: [{ key: '-k', operator: 'In', values: [] }] },
      `[key: Invalid value: "-k": name part ${nameRegexMsg}, values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty]`,
    ],
  ];
  for (const [sel, message] of cases) {
    assert.throws(() => labelSelectorFromObject(sel), (err: unknown) => err instanceof LabelSelectorParseError && err.message === message, message);
  }
});

// TestIsQualifiedName / TestIsValidLabelValue.
test('validateLabelKey', () => {
  for (const good of ['simple', 'now-with-dashes', '1-starts-with-num', 'example.com/MixedCase', 'a'.repeat(63), 'k8s.io/a_b.c']) {
    assert.deepEqual(validateLabelKey(good), [], good);
  }
  assert.deepEqual(validateLabelKey('/x'), ['prefix part must be non-empty']);
  assert.deepEqual(validateLabelKey('x/'), ['name part must be non-empty', `name part ${nameRegexMsg}`]);
  assert.deepEqual(validateLabelKey('a'.repeat(64)), ['name part must be no more than 63 characters']);
  assert.deepEqual(validateLabelKey('Example.com/x'), [
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
});

test('validateLabelValue', () => {
  for (const good of ['', 'simple', 'now-with-dashes', 'a_b.c', '1'.repeat(63)]) assert.deepEqual(validateLabelValue(good), [], good);
  assert.deepEqual(validateLabelValue('a'.repeat(64)), ['must be no more than 63 characters']);
  assert.deepEqual(validateLabelValue('nospecialchars%^=@'), [valueRegexMsg]);
});
