import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metaTime, microTime } from './time.ts';

test('metaTime: RFC 3339 in UTC with whole seconds, truncated, right across second boundaries', () => {
  const t = Date.parse('2026-11-24T21:43:03.999Z');
  assert.equal(metaTime(t), '2026-11-24T21:43:03Z');
  assert.equal(metaTime(t - 999), '2026-11-24T21:43:03Z');
  assert.equal(metaTime(t + 1), '2026-11-24T21:43:04Z');
  assert.equal(metaTime(t - 1000), '2026-11-24T21:43:02Z');
  assert.equal(metaTime(t), '2026-11-24T21:43:03Z');
  assert.equal(metaTime(Date.parse('1969-12-31T23:59:59.500Z')), '1969-12-31T23:59:59Z');
  assert.match(metaTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.throws(() => metaTime(Number.NaN), RangeError);
});

test('microTime: six fractional digits', () => {
  assert.equal(microTime(Date.parse('2025-03-04T05:06:07.891Z')), '2025-03-04T05:06:07.891000Z');
  assert.equal(microTime(Date.parse('2025-03-04T05:06:07Z')), '2025-03-04T05:06:07.000000Z');
});
