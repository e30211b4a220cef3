import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterSpec } from '../api/cluster.ts';
import { poolMatcher, poolMatchesSegment, poolsOf, HostnameKey, RegionKey, ZoneKey } from './topology.ts';

const cluster = {
  region: 'r1',
  zones: [{ name: 'a', zonalPoolBytes: 10n }, { name: 'b', zonalPoolBytes: 10n }, { name: 'c', zonalPoolBytes: 0n }],
  nodes: [
    { name: 'n1', zone: 'a', localPoolBytes: 5n },
    { name: 'n2', zone: 'b', localPoolBytes: 5n },
    { name: 'n3', zone: 'b', localPoolBytes: 0n },
    { name: 'n4', zone: 'c', localPoolBytes: 5n },
  ],
} as unknown as ClusterSpec;

// Every shape of segment a provisioner sends, including aliases, unknown keys and names the cluster lacks.
const segments: Record<string, string>[] = [
  {}, { [RegionKey]: 'r1' }, { [RegionKey]: 'r2' }, { [ZoneKey]: 'a' }, { [ZoneKey]: 'b' }, { [ZoneKey]: 'c' }, { [ZoneKey]: 'z' },
  { 'failure-domain.beta.kubernetes.io/zone': 'b' }, { 'failure-domain.beta.kubernetes.io/region': 'r1', [ZoneKey]: 'a' },
  { [HostnameKey]: 'n1' }, { [HostnameKey]: 'n2', [ZoneKey]: 'b' }, { [HostnameKey]: 'n2', [ZoneKey]: 'a' },
  { [HostnameKey]: 'n3', [RegionKey]: 'r1', [ZoneKey]: 'b' }, { [HostnameKey]: 'n4' }, { [HostnameKey]: 'ghost' }, { rack: '1' },
  { [ZoneKey]: 'a', rack: '1' },
];

test('poolMatcher answers as poolMatchesSegment does, in pool order, for zonal and local pools', () => {
  for (const kind of ['zonal', 'local'] as const) {
    const pools = poolsOf(cluster, kind);
    const match = poolMatcher(cluster, pools);
    for (const s of segments) {
      const expected = pools.filter((p) => poolMatchesSegment(cluster, p, s));
      assert.deepEqual(match(s), expected, `${kind} ${JSON.stringify(s)}`);
      assert.deepEqual(match(s), expected, `${kind} ${JSON.stringify(s)} (memoized)`);
    }
  }
  const local = poolMatcher(cluster, poolsOf(cluster, 'local'));
  assert.deepEqual(local({ [HostnameKey]: 'n2' }).map((p) => p.node), ['n2']);
  assert.deepEqual(local({ [ZoneKey]: 'b' }).map((p) => p.node), ['n2']);
  assert.deepEqual(poolMatcher(cluster, poolsOf(cluster, 'zonal'))({ [HostnameKey]: 'n3' }).map((p) => p.zone), ['b']);
});
