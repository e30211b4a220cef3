import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ItemExponentialFailureRateLimiter } from './rate-limiter.ts';
import { RateLimitingQueue, runWorkers } from './workqueue.ts';
import type { Logger } from './logger.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Whether get() answers right away (an item is ready) — without waiting for one to arrive. */
async function ready<T extends {}>(q: RateLimitingQueue<T>): Promise<T | 'nothing ready' | undefined> {
  return Promise.race([q.get(), new Promise<'nothing ready'>((r) => setImmediate(() => r('nothing ready')))]);
}

describe('RateLimitingQueue (client-go util/workqueue)', () => {
  it('TestBasic: every added item is handed out once, then shutDown drains and ends get()', async () => {
    const q = new RateLimitingQueue<number>();
    for (let i = 0; i < 50; i++) q.add(i % 10);
    assert.equal(q.len(), 10, 'duplicates collapse while queued');
    const got: number[] = [];
    for (let i = 0; i < 10; i++) {
      const item = (await q.get())!;
      got.push(item);
      q.done(item);
    }
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'FIFO order');
    q.add(1);
    q.shutDown();
    assert.equal(await q.get(), 1, 'queued items are still handed out after shutDown');
    assert.equal(await q.get(), undefined);
    q.add(2);
    assert.equal(q.len(), 0, 'adds after shutDown are ignored');
  });

  it('TestAddWhileProcessing: an item added while processed is queued again only after done()', async () => {
    const q = new RateLimitingQueue<string>();
    q.add('a');
    const a = await q.get();
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'not handed to a second worker while the first processes it');
    assert.equal(await ready(q), 'nothing ready');
    // The pending get() above is still waiting; done() re-adds and it receives the item.
    q.done(a!);
    assert.equal(q.len(), 0, 'the waiting worker took it');
    q.add('b');
    assert.equal(q.len(), 1);
  });

  it('TestLen: len counts queued items only', async () => {
    const q = new RateLimitingQueue<string>();
    q.add('x');
    q.add('y');
    assert.equal(q.len(), 2);
    await q.get();
    assert.equal(q.len(), 1);
  });

  it('TestReinsert: done() without a re-add leaves the queue empty; a re-add returns the item', async () => {
    const q = new RateLimitingQueue<string>();
    q.add('foo');
    const item = (await q.get())!;
    q.add(item);
    q.done(item);
    assert.equal(await q.get(), 'foo');
    assert.equal(q.len(), 0);
  });

  it('a waiting get() receives an item added later; shutDown wakes waiters with undefined', async () => {
    const q = new RateLimitingQueue<string>();
    const waiting = q.get();
    q.add('late');
    assert.equal(await waiting, 'late');
    const waiting2 = q.get();
    q.shutDown();
    assert.equal(await waiting2, undefined);
    assert.equal(q.shuttingDown(), true);
  });
});

describe('delaying queue (addAfter)', () => {
  it('TestSimpleQueue: the item appears only after its delay', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const q = new RateLimitingQueue<string>();
    q.addAfter('foo', 50);
    assert.equal(q.len(), 0);
    t.mock.timers.tick(49);
    assert.equal(q.len(), 0);
    t.mock.timers.tick(1);
    assert.equal(q.len(), 1);
  });

  it('TestDeduping: a waiting item keeps the earliest time it was asked for', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const q = new RateLimitingQueue<string>();
    q.addAfter('foo', 50);
    q.addAfter('foo', 70); // later: ignored
    t.mock.timers.tick(50);
    assert.equal(q.len(), 1);
    q.addAfter('bar', 70);
    q.addAfter('bar', 30); // earlier: wins
    t.mock.timers.tick(30);
    assert.equal(q.len(), 2);
    t.mock.timers.tick(100);
    assert.equal(q.len(), 2, 'fired once only');
  });

  it('TestAddTwoFireEarly: items fire in order of readiness', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const q = new RateLimitingQueue<string>();
    q.addAfter('foo', 1000);
    q.addAfter('bar', 50);
    t.mock.timers.tick(60);
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), 'bar');
    q.addAfter('foo', 20);
    t.mock.timers.tick(20);
    assert.equal(await q.get(), 'foo');
  });

  it('a non-positive delay adds at once; shutDown cancels waiting items', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const q = new RateLimitingQueue<string>();
    q.addAfter('now', 0);
    assert.equal(q.len(), 1);
    q.addAfter('later', 10);
    q.shutDown();
    t.mock.timers.tick(10);
    assert.equal(q.len(), 1);
  });
});

describe('TestRateLimitingQueue', () => {
  it('addRateLimited backs off per item; forget resets; numRequeues counts', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const q = new RateLimitingQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(1, 1000) });
    q.addRateLimited('one'); // 1 ms
    q.addRateLimited('one'); // 2 ms (dedups with the waiting one: earliest wins)
    assert.equal(q.numRequeues('one'), 2);
    q.addRateLimited('two'); // 1 ms
    t.mock.timers.tick(1);
    assert.equal(q.len(), 2);
    q.forget('one');
    assert.equal(q.numRequeues('one'), 0);
    q.addRateLimited('one');
    assert.equal(q.numRequeues('one'), 1);
  });
});

describe('runWorkers', () => {
  it('retries a failing key with backoff, forgets it on success, and returns after shutDown', async () => {
    const q = new RateLimitingQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter<string>(1, 10) });
    const calls: string[] = [];
    let failuresLeft = 3;
    let synced!: () => void;
    const allDone = new Promise<void>((r) => (synced = r));
    const workers = runWorkers(q, 2, async (key) => {
      calls.push(key);
      if (key === 'flaky' && failuresLeft-- > 0) throw new Error('boom');
      if (key === 'flaky') synced();
    }, { logger: silent });
    q.add('flaky');
    q.add('steady');
    await allDone;
    await new Promise((r) => setImmediate(r)); // let the worker finish the successful sync
    assert.deepEqual(calls.filter((k) => k === 'flaky').length, 4);
    assert.deepEqual(calls.filter((k) => k === 'steady').length, 1);
    assert.equal(q.numRequeues('flaky'), 0, 'forgotten after success');
    q.shutDown();
    await workers;
  });

  it('never runs one key on two workers at once', async () => {
    const q = new RateLimitingQueue<string>();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const workers = runWorkers(q, 4, async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await new Promise((r) => setTimeout(r, 5));
      running--;
    }, { logger: silent });
    q.add('k');
    await new Promise((r) => setTimeout(r, 1));
    q.add('k');
    q.add('k');
    await new Promise((r) => setTimeout(r, 30));
    q.shutDown();
    await workers;
    assert.equal(maxRunning, 1);
    assert.equal(runs, 2, 'the adds during processing collapse into one more run');
  });
});
