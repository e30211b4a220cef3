import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, TokenBucket, defaultControllerRateLimiter, sidecarRateLimiter,
} from './rate-limiter.ts';

describe('rate limiters (client-go default_rate_limiters_test)', () => {
  it('TestItemExponentialFailureRateLimiter', () => {
    const limiter = new ItemExponentialFailureRateLimiter<string>(1, 1000);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => limiter.when('one')), [1, 2, 4, 8, 16]);
    assert.equal(limiter.numRequeues('one'), 5);
    assert.deepEqual([limiter.when('two'), limiter.when('two')], [1, 2]);
    assert.equal(limiter.numRequeues('two'), 2);
    limiter.forget('one');
    assert.equal(limiter.numRequeues('one'), 0);
    assert.equal(limiter.when('one'), 1);
  });

  it('TestItemExponentialFailureRateLimiterOverFlow: capped at max, no overflow', () => {
    const limiter = new ItemExponentialFailureRateLimiter<string>(1, 1000);
    for (let i = 0; i < 5; i++) limiter.when('one');
    assert.equal(limiter.when('one'), 32);
    for (let i = 0; i < 1000; i++) limiter.when('overflow1');
    assert.equal(limiter.when('overflow1'), 1000);
    const hours = new ItemExponentialFailureRateLimiter<string>(60_000, 1000 * 3_600_000);
    for (let i = 0; i < 2; i++) hours.when('two');
    assert.equal(hours.when('two'), 4 * 60_000);
    for (let i = 0; i < 1000; i++) hours.when('overflow2');
    assert.equal(hours.when('overflow2'), 1000 * 3_600_000);
  });

  it('TestMaxOfRateLimiter: the longest wait of its limiters', () => {
    const limiter = new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter(1, 1000), new ItemExponentialFailureRateLimiter(5, 20));
    assert.deepEqual([1, 2, 3, 4, 5].map(() => limiter.when('one')), [5, 10, 20, 20, 20]);
    assert.equal(limiter.numRequeues('one'), 5);
    limiter.forget('one');
    assert.equal(limiter.numRequeues('one'), 0);
    assert.equal(limiter.when('one'), 5);
  });

  it('BucketRateLimiter: burst free, then 1/qps apart', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    const limiter = new BucketRateLimiter<string>(10, 2);
    assert.deepEqual([limiter.when('a'), limiter.when('b'), limiter.when('c'), limiter.when('d')], [0, 0, 100, 200]);
    t.mock.timers.tick(1000);
    assert.equal(limiter.when('e'), 0, 'refilled (up to the burst)');
  });

  it('TokenBucket.tryAccept takes a token only when one is there', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    const bucket = new TokenBucket(1, 1);
    assert.equal(bucket.tryAccept(), true);
    assert.equal(bucket.tryAccept(), false);
    t.mock.timers.tick(999);
    assert.equal(bucket.tryAccept(), false);
    t.mock.timers.tick(1);
    assert.equal(bucket.tryAccept(), true);
    assert.throws(() => new TokenBucket(0, 1), RangeError);
  });

  it('defaults: controllers 5 ms doubling under a 10 qps/100 burst bucket; sidecars 1 s … 5 min', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    const controller = defaultControllerRateLimiter<string>();
    assert.deepEqual([controller.when('x'), controller.when('x'), controller.when('x')], [5, 10, 20]);
    const sidecar = sidecarRateLimiter<string>();
    const waits = Array.from({ length: 11 }, () => sidecar.when('pvc'));
    assert.deepEqual(waits.slice(0, 4), [1000, 2000, 4000, 8000]);
    assert.equal(waits[10], 300_000);
  });
});
