import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CoreEvent, ObjectReference } from '../api/types.ts';
import { EventCorrelator, eventKey, objectReference } from './events.ts';

// The fixtures of client-go's tools/record/events_cache_test.go.
const AGGREGATE_MAX_EVENTS = 10;
const AGGREGATE_INTERVAL_S = 600;
const SPAM_BURST = 25;

function ref(kind: string, name: string, namespace: string): ObjectReference {
  return { kind, name, namespace, uid: 'C934D34AFB20242', apiVersion: 'version', fieldPath: 'spec.containers{mycontainer}' };
}
function makeEvent(reason: string, message: string, involvedObject: ObjectReference): CoreEvent {
  return { metadata: {}, reason, message, involvedObject: { ...involvedObject }, source: { component: 'kubelet', host: 'kublet.node1' }, count: 1, type: 'Normal' };
}
const repeat = (n: number, e: CoreEvent): CoreEvent[] => Array.from({ length: n }, () => structuredClone(e));
const similar = (n: number, e: CoreEvent, prefix: string): CoreEvent[] =>
  repeat(n, e).map((x, i) => ({ ...x, message: [prefix, String(i), x.message].join('-') }));
const unique = (n: number): CoreEvent[] =>
  Array.from({ length: n }, (_, i) => makeEvent(`reason-${i}`, `message-${i}`, ref('Pod', `pod-${i}`, `ns-${i}`)));
const withCount = (e: CoreEvent, count: number): CoreEvent => ({ ...e, count });

const firstEvent = makeEvent('first', 'i am first', ref('Pod', 'my-pod', 'my-ns'));
const duplicateEvent = makeEvent('duplicate', 'me again', ref('Pod', 'my-pod', 'my-ns'));
const uniqueEvent = makeEvent('unique', 'snowflake', ref('Pod', 'my-pod', 'my-ns'));
const similarEvent = makeEvent('similar', 'similar message', { ...ref('Pod', 'my-pod', 'my-ns'), fieldPath: 'spec.containers{container1}' });
const aggregateEvent = makeEvent(similarEvent.reason!, `(combined from similar events): ${similarEvent.message}`, similarEvent.involvedObject);
const similarButDifferentContainerEvent: CoreEvent = { ...similarEvent, involvedObject: { ...similarEvent.involvedObject, fieldPath: 'spec.containers{container2}' } };

interface Scenario {
  previousEvents: CoreEvent[];
  newEvent: CoreEvent;
  expectedEvent?: CoreEvent;
  intervalSeconds: number;
  expectedSkip?: boolean;
}

const scenarios: Record<string, Scenario> = {
  'create-a-single-event': { previousEvents: [], newEvent: firstEvent, expectedEvent: withCount(firstEvent, 1), intervalSeconds: 5 },
  'the-same-event-should-just-count': { previousEvents: repeat(1, duplicateEvent), newEvent: duplicateEvent, expectedEvent: withCount(duplicateEvent, 2), intervalSeconds: 5 },
  'the-same-event-should-just-count-even-if-more-than-aggregate': {
    previousEvents: repeat(AGGREGATE_MAX_EVENTS, duplicateEvent), newEvent: duplicateEvent, expectedEvent: withCount(duplicateEvent, AGGREGATE_MAX_EVENTS + 1), intervalSeconds: 30,
  },
  'the-same-event-is-spam-if-happens-too-frequently': { previousEvents: repeat(SPAM_BURST + 1, duplicateEvent), newEvent: duplicateEvent, expectedSkip: true, intervalSeconds: 1 },
  'create-many-unique-events': { previousEvents: unique(30), newEvent: uniqueEvent, expectedEvent: withCount(uniqueEvent, 1), intervalSeconds: 5 },
  'similar-events-should-aggregate-event': {
    previousEvents: similar(AGGREGATE_MAX_EVENTS - 1, similarEvent, similarEvent.message!), newEvent: similarEvent, expectedEvent: withCount(aggregateEvent, 1), intervalSeconds: 5,
  },
  'similar-events-many-times-should-count-the-aggregate': {
    previousEvents: similar(AGGREGATE_MAX_EVENTS, similarEvent, similarEvent.message!), newEvent: similarEvent, expectedEvent: withCount(aggregateEvent, 2), intervalSeconds: 5,
  },
  'events-from-different-containers-do-not-aggregate': {
    previousEvents: repeat(1, similarButDifferentContainerEvent), newEvent: similarEvent, expectedEvent: withCount(similarEvent, 1), intervalSeconds: 5,
  },
  // Upstream's interval clock advances on every read, so its 600 s steps exceed the interval; one more second here.
  'similar-events-whose-interval-is-greater-than-aggregate-interval-do-not-aggregate': {
    previousEvents: similar(AGGREGATE_MAX_EVENTS - 1, similarEvent, similarEvent.message!), newEvent: similarEvent, expectedEvent: withCount(similarEvent, 1), intervalSeconds: AGGREGATE_INTERVAL_S + 1,
  },
};

/** The fields validateEvent compares (it ignores timestamps, the name and reportingComponent). */
function comparable(e: CoreEvent): Partial<CoreEvent> {
  return { involvedObject: e.involvedObject, reason: e.reason, message: e.message, source: e.source, count: e.count, type: e.type, metadata: { namespace: e.metadata.namespace } };
}

describe('TestEventCorrelator', () => {
  for (const [name, s] of Object.entries(scenarios)) {
    it(name, (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2025-01-01T00:00:00Z') });
      const correlator = new EventCorrelator();
      const stamp = (e: CoreEvent): CoreEvent => {
        const now = new Date(Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
        return { ...structuredClone(e), firstTimestamp: now, lastTimestamp: now };
      };
      for (const previous of s.previousEvents) {
        const result = correlator.correlate(stamp(previous));
        if (!result.skip) correlator.updateState({ ...result.event, metadata: { ...result.event.metadata, resourceVersion: '1' } });
        t.mock.timers.tick(s.intervalSeconds * 1000);
      }
      const result = correlator.correlate(stamp(s.newEvent));
      assert.equal(result.skip, s.expectedSkip ?? false);
      if (s.expectedSkip) return;
      assert.deepEqual(comparable(result.event), comparable(s.expectedEvent!));
      const compressed = (s.expectedEvent!.count ?? 0) > 1;
      assert.equal(result.event.firstTimestamp !== result.event.lastTimestamp, compressed, 'first/last timestamps differ exactly when counted');
      assert.equal(result.patch !== undefined, compressed, 'a repeat is written as a patch');
    });
  }
});

describe('EventCorrelator repeats', () => {
  it('a repeat keeps the first occurrence name and patches count, lastTimestamp and message', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2025-01-01T00:00:00Z') });
    const correlator = new EventCorrelator();
    const first = correlator.correlate({ ...structuredClone(duplicateEvent), metadata: { name: 'my-pod.1', namespace: 'my-ns' }, firstTimestamp: '2025-01-01T00:00:00Z', lastTimestamp: '2025-01-01T00:00:00Z' });
    correlator.updateState({ ...first.event, metadata: { ...first.event.metadata, resourceVersion: '7' } });
    t.mock.timers.tick(5000);
    const second = correlator.correlate({ ...structuredClone(duplicateEvent), metadata: { name: 'my-pod.2', namespace: 'my-ns' }, firstTimestamp: '2025-01-01T00:00:05Z', lastTimestamp: '2025-01-01T00:00:05Z' });
    assert.equal(second.event.metadata.name, 'my-pod.1');
    assert.equal(second.event.metadata.resourceVersion, '7');
    assert.equal(second.event.firstTimestamp, '2025-01-01T00:00:00Z');
    assert.deepEqual(second.patch, { count: 2, lastTimestamp: '2025-01-01T00:00:05Z', message: 'me again' });
  });

  it('TestEventAggregatorByReasonFunc: the event key tells messages apart', () => {
    const e1 = makeEvent('end-of-world', 'it was fun', ref('Pod', 'pod1', 'other'));
    const e2 = makeEvent('end-of-world', 'it was awful', ref('Pod', 'pod1', 'other'));
    assert.notEqual(eventKey(e1), eventKey(e2));
    assert.equal(eventKey(e1), eventKey(structuredClone(e1)));
  });
});

describe('objectReference', () => {
  it('takes kind, apiVersion, namespace, name, uid and resourceVersion from the object', () => {
    const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default', uid: 'u-1', resourceVersion: '42', labels: { a: 'b' } } };
    assert.deepEqual(objectReference(pvc), { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: 'u-1', apiVersion: 'v1', resourceVersion: '42' });
    assert.deepEqual(objectReference({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv-1' } }), { kind: 'PersistentVolume', name: 'pv-1', apiVersion: 'v1' });
  });
});
