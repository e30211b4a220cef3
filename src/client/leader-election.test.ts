import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaderElectionConfigError } from './errors.ts';
import { microTime } from '../api/time.ts';
import { compileTimings } from './leader-election.ts';

describe('leader election timings (client-go NewLeaderElector checks)', () => {
  it('defaults to 15 s / 10 s / 2 s', () => {
    assert.deepEqual(compileTimings({}), { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
  });
  const invalid: Array<[string, Parameters<typeof compileTimings>[0], string]> = [
    ['lease not longer than renew deadline', { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }, 'leaseDuration must be greater than renewDeadline'],
    ['renew deadline within jittered retry', { renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }, 'renewDeadline must be greater than retryPeriod*JitterFactor'],
    ['zero retry period', { retryPeriodMs: 0 }, 'retryPeriod must be greater than zero'],
    ['empty identity', { identity: '' }, 'Lock identity is empty'],
  ];
  for (const [name, input, message] of invalid) {
    it(name, () => {
      assert.throws(() => compileTimings(input), (e: unknown) => e instanceof LeaderElectionConfigError && e.message === message);
    });
  }
  it('microTime has six fractional digits', () => {
    assert.equal(microTime(Date.parse('2025-03-04T05:06:07.891Z')), '2025-03-04T05:06:07.891000Z');
  });
});
