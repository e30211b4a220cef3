import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogRequestError } from './errors.ts';
import { parseCriLog, parseLogOptions, renderEntries, selectEntries } from './logs.ts';
import { expandVars, rfc3339Nano } from './runtime.ts';

const log = [
  '2024-01-01T00:00:01.5Z stdout F one',
  '2024-01-01T00:00:02Z stderr P par',
  '2024-01-01T00:00:02.1Z stderr F tial',
  'garbage line',
  '2024-01-01T00:00:03Z stdout F three',
  '',
].join('\n');

test('CRI log lines read back as text; partial entries join their line', () => {
  const entries = parseCriLog(log);
  assert.equal(renderEntries(entries, { timestamps: false }), 'one\npartial\nthree\n');
  assert.equal(renderEntries(entries, { timestamps: true }), '2024-01-01T00:00:01.5Z one\n2024-01-01T00:00:02Z partial\n2024-01-01T00:00:03Z three\n');
});

test('tailLines counts whole lines; sinceTime filters by entry time', () => {
  const entries = parseCriLog(log);
  const opts = parseLogOptions(new URLSearchParams('tailLines=2'));
  assert.equal(renderEntries(selectEntries(entries, opts), opts), 'partial\nthree\n');
  assert.equal(renderEntries(selectEntries(entries, parseLogOptions(new URLSearchParams('tailLines=0'))), { timestamps: false }), '');
  const since = parseLogOptions(new URLSearchParams('sinceTime=2024-01-01T00:00:02.05Z'));
  assert.equal(renderEntries(selectEntries(entries, since), since), 'tial\nthree\n');
});

test('invalid log options answer 422 as the kubelet does', () => {
  assert.throws(() => parseLogOptions(new URLSearchParams('tailLines=-1')), (e) => e instanceof LogRequestError && e.code === 422);
  assert.throws(() => parseLogOptions(new URLSearchParams('limitBytes=0')), LogRequestError);
});

test('RFC3339Nano drops trailing zeros like Go', () => {
  const d = new Date('2024-01-02T03:04:05.670Z');
  assert.equal(rfc3339Nano(d, 0), '2024-01-02T03:04:05.67Z');
  assert.equal(rfc3339Nano(d, 123), '2024-01-02T03:04:05.670000123Z');
  assert.equal(rfc3339Nano(new Date('2024-01-02T03:04:05.000Z')), '2024-01-02T03:04:05Z');
});

test('$(VAR) expansion: defined names replaced, undefined kept, $$ escapes', () => {
  const env = { A: 'x', B: 'y' };
  assert.equal(expandVars('$(A)-$(B)-$(C)-$$(A)', env), 'x-y-$(C)-$(A)');
});
