import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  QuantityParseError, bytesToQuantityString, compareQuantity, formatQuantity, parseQuantity, quantityFromBytes,
  quantityValue, tryParseQuantity,
} from './quantity.ts';

const formatWrong = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

// TestQuantityParse: value in nano-units and format.
test('TestQuantityParse', () => {
  const cases: Array<[string, bigint, string]> = [
    ['0', 0n, 'DecimalSI'], ['0Ki', 0n, 'BinarySI'], ['0m', 0n, 'DecimalSI'],
    ['1', 1_000_000_000n, 'DecimalSI'],
    ['1Ki', 1024n * 10n ** 9n, 'BinarySI'], ['7Mi', 7n * 2n ** 20n * 10n ** 9n, 'BinarySI'],
    ['3Ei', 3n * 2n ** 60n * 10n ** 9n, 'BinarySI'],
    ['5n', 5n, 'DecimalSI'], ['4u', 4000n, 'DecimalSI'], ['3m', 3_000_000n, 'DecimalSI'], ['50k', 50_000n * 10n ** 9n, 'DecimalSI'],
    ['1E', 10n ** 27n, 'DecimalSI'],
    ['1E-3', 1_000_000n, 'DecimalExponent'], ['1e3', 10n ** 12n, 'DecimalExponent'], ['1.3E+6', 13n * 10n ** 14n, 'DecimalExponent'],
    ['100.035k', 100_035n * 10n ** 9n, 'DecimalSI'], ['0.0005k', 500_000_000n, 'DecimalSI'], ['0.5e-1', 50_000_000n, 'DecimalExponent'],
    ['3.001n', 4n, 'DecimalSI'], ['1.1E-9', 2n, 'DecimalExponent'], ['0.0000000001', 1n, 'DecimalSI'],
    ['0.00000012345', 124n, 'DecimalSI'],
    ['9Ei', (2n ** 63n - 1n) * 10n ** 9n, 'BinarySI'], ['9223372036854775807Ki', (2n ** 63n - 1n) * 10n ** 9n, 'BinarySI'],
    ['12E', 12n * 10n ** 27n, 'DecimalSI'],
    ['100.035Ki', 10_243_584n * 10n ** 7n, 'BinarySI'], ['0.5Mi', 524_288n * 10n ** 9n, 'BinarySI'],
    ['0.000000000001Ki', 2n, 'DecimalSI'], ['.001', 1_000_000n, 'DecimalSI'], ['1.', 10n ** 9n, 'DecimalSI'], ['1.G', 10n ** 18n, 'DecimalSI'],
  ];
  for (const [input, nano, format] of cases) {
    for (const [prefix, sign] of [['', 1n], ['-', -1n], ['+', 1n]] as const) {
      const q = parseQuantity(prefix + input);
      assert.equal(q.nano, sign * nano, prefix + input);
      assert.equal(q.format, format, prefix + input);
    }
  }
});

test('TestQuantityParse invalid', () => {
  const cases: Array<[string, string]> = [
    ['', formatWrong], ['1.1.M', formatWrong], ['1+1.0M', formatWrong], ['0.1mi', "unable to parse quantity's suffix"],
    ['0.1am', formatWrong], ['aoeu', formatWrong], ['.5i', "unable to parse quantity's suffix"], ['1i', "unable to parse quantity's suffix"],
    ['-3.01i', "unable to parse quantity's suffix"], ['-3.01e-', "unable to parse quantity's suffix"],
    ['1e4294967297', "unable to parse quantity's suffix"], [' 1', formatWrong], ['1 ', formatWrong],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseQuantity(input), (err: unknown) => err instanceof QuantityParseError && err.message === message, input);
  }
});

// TestQuantityParseEmit and TestQuantityString's canonical forms, reached through parsing.
test('TestQuantityParseEmit', () => {
  const cases: Array<[string, string]> = [
    ['1Ki', '1Ki'], ['1Gi', '1Gi'], ['1024Mi', '1Gi'], ['1000M', '1G'], ['.001Ki', '1024m'], ['.000001Ki', '1024u'],
    ['.000000001Ki', '1024n'], ['.000000000001Ki', '2n'],
    ['1.5Gi', '1536Mi'], ['1000Mi', '1000Mi'], ['307200Ki', '300Mi'], ['1.5', '1500m'], ['1000', '1k'], ['0.001T', '1G'],
    ['1000u', '1m'], ['1.08', '1080m'], ['1080000000n', '1080m'], ['5000m', '5'], ['100m', '100m'], ['0.1', '100m'],
    ['1000E', '1e21'], ['5000E', '5e21'], ['.001e12', '1e9'], ['1000e-12', '1e-9'], ['00', '0'], ['-1', '-1'], ['1025', '1025'],
    // Upstream keeps an already-canonical input verbatim, sign and leading zeros included.
    ['+1Ki', '+1Ki'], ['0100m', '0100m'],
  ];
  for (const [input, expected] of cases) {
    assert.equal(formatQuantity(parseQuantity(input)), expected, input);
    if (!input.startsWith('+') && input !== '00' && input !== '-1') {
      assert.equal(formatQuantity(parseQuantity('-' + input)), '-' + expected, '-' + input);
    }
  }
});

test('quantityValue and milli round away from zero', () => {
  assert.equal(quantityValue(parseQuantity('100m')), 1n);
  assert.equal(quantityValue(parseQuantity('-100m')), -1n);
  assert.equal(quantityValue(parseQuantity('1.5Gi')), 1_610_612_736n);
  assert.equal(parseQuantity('1n').milli, 1n);
  assert.equal(parseQuantity('2').milli, 2000n);
});

test('TestQuantityCmp', () => {
  const cases: Array<[string, string, number]> = [['0', '0', 0], ['100m', '50m', 1], ['50m', '100m', -1], ['10000T', '100Gi', 1], ['1Gi', '1024Mi', 0]];
  for (const [x, y, expected] of cases) assert.equal(compareQuantity(parseQuantity(x), parseQuantity(y)), expected, `${x} vs ${y}`);
});

test('tryParseQuantity', () => {
  assert.equal(tryParseQuantity(5), undefined);
  assert.equal(tryParseQuantity('bogus'), undefined);
  assert.equal(tryParseQuantity('1Gi')?.nano, 2n ** 30n * 10n ** 9n);
});

test('bytes to quantities', () => {
  assert.equal(bytesToQuantityString(1073741824), '1Gi');
  assert.equal(bytesToQuantityString(1536n * 1024n * 1024n), '1536Mi');
  // Below 1024 a BinarySI quantity prints as DecimalSI, as upstream.
  assert.equal(bytesToQuantityString(1000), '1k');
  assert.equal(bytesToQuantityString(1025), '1025');
  assert.equal(bytesToQuantityString(0), '0');
  assert.equal(formatQuantity(quantityFromBytes(1_000_000_000n, 'DecimalSI')), '1G');
});
