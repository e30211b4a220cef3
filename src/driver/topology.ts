// The driver's storage layout in topology terms: one zonal pool per zone (reachable from every node of the zone) and
// one local pool per node with a local disk (reachable from that node only).
import type { ClusterNode, ClusterSpec } from '../api/cluster.ts';
import type { Topology } from '../csi/types.ts';
import type { PoolKind } from './store.ts';

export const ZoneKey = 'topology.kubernetes.io/zone';
export const RegionKey = 'topology.kubernetes.io/region';
export const HostnameKey = 'kubernetes.io/hostname';
// Requests may still name the deprecated beta labels; they mean the same domains.
const keyAliases: Record<string, string> = {
  'failure-domain.beta.kubernetes.io/zone': ZoneKey,
  'failure-domain.beta.kubernetes.io/region': RegionKey,
};

export interface Pool {
  kind: PoolKind;
  zone: string;
  node: string | null;
  capacity: bigint;
}

export function poolsOf(cluster: ClusterSpec, kind: PoolKind): Pool[] {
  if (kind === 'zonal') {
    return cluster.zones.filter((z) => z.zonalPoolBytes > 0n).map((z) => ({ kind, zone: z.name, node: null, capacity: z.zonalPoolBytes }));
  }
  return cluster.nodes.filter((n) => n.localPoolBytes > 0n).map((n) => ({ kind, zone: n.zone, node: n.name, capacity: n.localPoolBytes }));
}

export function poolKey(pool: { kind: PoolKind; zone: string; node: string | null }): string {
  return pool.kind === 'zonal' ? pool.zone : pool.node!;
}

export function nodeTopology(cluster: ClusterSpec, node: ClusterNode): Topology {
  return { segments: { [RegionKey]: cluster.region, [ZoneKey]: node.zone, [HostnameKey]: node.name } };
}

// Where a volume in this pool is reachable from, as accessible_topology.
export function poolTopology(cluster: ClusterSpec, pool: { zone: string; node: string | null }): Topology[] {
  const segments: Record<string, string> = { [RegionKey]: cluster.region, [ZoneKey]: pool.zone };
  if (pool.node !== null) segments[HostnameKey] = pool.node;
  return [{ segments }];
}

// Whether a volume in the pool is reachable from somewhere inside the segment. A segment naming a key the driver does
// not know matches nothing. zoneOfNode answers for the cluster's nodes (see poolMatcher for the indexed form).
export function poolMatchesSegment(cluster: ClusterSpec, pool: Pool, segments: Record<string, string>, zoneOfNode = nodeZones(cluster)): boolean {
  for (const [rawKey, value] of Object.entries(segments)) {
    const k = keyAliases[rawKey] ?? rawKey;
    if (k === RegionKey) {
      if (value !== cluster.region) return false;
    } else if (k === ZoneKey) {
      if (value !== pool.zone) return false;
    } else if (k === HostnameKey) {
      if (zoneOfNode.get(value) !== pool.zone || (pool.node !== null && pool.node !== value)) return false;
    } else return false;
  }
  return true;
}

function nodeZones(cluster: ClusterSpec): Map<string, string> {
  return new Map(cluster.nodes.map((n) => [n.name, n.zone]));
}

/**
 * The pools reachable from each segment. A provisioner that is not strict about topology sends
 * every node's segment as requisite, so the pools are indexed by node and by zone and each distinct segment is
 * matched once: linear in segments, not segments × pools × nodes.
 */
export function poolMatcher(cluster: ClusterSpec, pools: Pool[]): (segments: Record<string, string>) => Pool[] {
  const zoneOfNode = nodeZones(cluster);
  const byKey = new Map<string, Pool[]>();
  for (const p of pools) {
    for (const key of [`zone\0${p.zone}`, ...(p.node !== null ? [`node\0${p.node}`] : [])]) {
      const list = byKey.get(key);
      if (list) list.push(p);
      else byKey.set(key, [p]);
    }
  }
  // Frozen segments are the interned ones of topology-wire.ts (one object per distinct topology, for the driver's
  // lifetime): remembered by identity; others by content.
  const byObject = new WeakMap<Record<string, string>, Pool[]>();
  const byContent = new Map<string, Pool[]>();
  return (segments) => {
    const interned = Object.isFrozen(segments);
    const memoKey = interned ? '' : JSON.stringify(segments);
    let found = interned ? byObject.get(segments) : byContent.get(memoKey);
    if (found) return found;
    let host: string | undefined;
    let zone: string | undefined;
    for (const [rawKey, value] of Object.entries(segments)) {
      const k = keyAliases[rawKey] ?? rawKey;
      if (k === HostnameKey) host = value;
      else if (k === ZoneKey) zone = value;
    }
    // A hostname narrows to that node's local pool or its zone's pools; a zone to that zone's pools.
    const hostZone = host !== undefined ? zoneOfNode.get(host) : undefined;
    const narrowed = host !== undefined
      ? [...(byKey.get(`node\0${host}`) ?? []), ...(hostZone !== undefined ? (byKey.get(`zone\0${hostZone}`) ?? []).filter((p) => p.node === null) : [])]
      : zone !== undefined ? (byKey.get(`zone\0${zone}`) ?? []) : pools;
    found = narrowed.filter((p) => poolMatchesSegment(cluster, p, segments, zoneOfNode));
    if (interned) byObject.set(segments, found);
    else {
      if (byContent.size >= 10_000) byContent.clear(); // bounded whatever callers send
      byContent.set(memoKey, found);
    }
    return found;
  };
}

// Whether a node can reach a volume placed in the pool.
export function nodeReachesPool(node: ClusterNode, pool: { zone: string; node: string | null }): boolean {
  return pool.node !== null ? pool.node === node.name : pool.zone === node.zone;
}
