// CSI Node service for one node of the cluster: bind-mounts volumes reachable from the node's topology.
import { mkdir, rmdir, statfs } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { ClusterNode, ClusterSpec } from '../api/cluster.ts';
import type { NodeGetVolumeStatsRequest, NodePublishVolumeRequest, NodeRpcs, NodeUnpublishVolumeRequest, ServiceImpl } from '../csi/types.ts';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from './errors.ts';
import { unsupportedCapability } from './controller.ts';
import { bindMount, DataDir, exists, isMountPoint, isVolumeId, treeUsage, unmount } from './files.ts';
import type { DriverStore, VolumeRecord } from './store.ts';
import { nodeReachesPool, nodeTopology, poolKey } from './topology.ts';

function validPath(path: string | undefined, what: string): string {
  if (!path) throw invalidArgument(`${what} missing in request`);
  if (!isAbsolute(path) || path.includes('\0')) throw invalidArgument(`${what} must be an absolute path`);
  return path;
}

export class NodeService implements ServiceImpl<NodeRpcs> {
  private readonly cluster: ClusterSpec;
  private readonly node: ClusterNode;
  private readonly store: DriverStore;
  private readonly dirs: DataDir;

  constructor(cluster: ClusterSpec, node: ClusterNode, store: DriverStore, dirs: DataDir) {
    this.cluster = cluster;
    this.node = node;
    this.store = store;
    this.dirs = dirs;
  }

  private volume(id: string | undefined): VolumeRecord {
    if (!id) throw invalidArgument('Volume ID missing in request');
    const rec = isVolumeId(id) ? this.store.volumeById(id) : undefined;
    if (!rec || rec.state !== 'ready') throw notFound(`volume ${JSON.stringify(id)} does not exist`);
    return rec;
  }

  async NodeGetInfo() {
    return { node_id: this.node.name, max_volumes_per_node: String(this.node.maxVolumesPerNode), accessible_topology: nodeTopology(this.cluster, this.node) };
  }

  async NodeGetCapabilities() {
    return { capabilities: (['GET_VOLUME_STATS', 'VOLUME_CONDITION'] as const).map((type) => ({ rpc: { type } })) };
  }

  async NodePublishVolume(req: NodePublishVolumeRequest): Promise<object> {
    if (!req.volume_id) throw invalidArgument('Volume ID missing in request');
    const target = validPath(req.target_path, 'Target path');
    if (!req.volume_capability) throw invalidArgument('Volume capability missing in request');
    const rec = this.volume(req.volume_id);
    const why = unsupportedCapability(req.volume_capability, rec.kind);
    if (why) throw invalidArgument(why);
    if (!nodeReachesPool(this.node, rec)) {
      throw failedPrecondition(
        `volume ${rec.id} lives in the ${rec.kind} pool ${poolKey(rec)} (zone ${rec.zone}), which node ${this.node.name} in zone ${this.node.zone} cannot reach`,
      );
    }
    const readonly = req.readonly === true;
    const existing = this.store.publicationAt(target);
    if (existing && (existing.volumeId !== rec.id || existing.readonly !== readonly)) {
      throw alreadyExists(`target path ${target} is already published for volume ${existing.volumeId}${existing.readonly ? ' read-only' : ''}`);
    }
    await mkdir(target, { recursive: true, mode: 0o750 });
    // A retry after a crash between mounting and recording finds the mount already there.
    if (!(await isMountPoint(target))) await bindMount(this.dirs.volumePath(rec.id), target, readonly);
    this.store.addPublication({ volumeId: rec.id, targetPath: target, node: this.node.name, readonly });
    return {};
  }

  async NodeUnpublishVolume(req: NodeUnpublishVolumeRequest): Promise<object> {
    if (!req.volume_id) throw invalidArgument('Volume ID missing in request');
    const target = validPath(req.target_path, 'Target path');
    const rec = this.volume(req.volume_id);
    const publication = this.store.publicationAt(target);
    if (publication && publication.volumeId !== rec.id) throw failedPrecondition(`target path ${target} holds volume ${publication.volumeId}, not ${rec.id}`);
    if (await isMountPoint(target)) await unmount(target);
    if (await exists(target)) await rmdir(target);
    this.store.removePublication(rec.id, target);
    return {};
  }

  async NodeGetVolumeStats(req: NodeGetVolumeStatsRequest) {
    if (!req.volume_id) throw invalidArgument('Volume ID missing in request');
    const path = validPath(req.volume_path, 'Volume path');
    const rec = this.volume(req.volume_id);
    if (!this.store.publications(rec.id).some((p) => p.targetPath === path)) {
      throw notFound(`volume ${rec.id} is not published at ${path}`);
    }
    const dir = this.dirs.volumePath(rec.id);
    if (!(await exists(dir))) return { usage: [], volume_condition: { abnormal: true, message: 'volume directory is missing' } };
    const used = await treeUsage(dir);
    const fs = await statfs(dir, { bigint: true });
    const available = rec.capacity > used.bytes ? rec.capacity - used.bytes : 0n;
    return {
      usage: [
        { unit: 'BYTES', total: String(rec.capacity), used: String(used.bytes), available: String(available) },
        { unit: 'INODES', total: String(used.inodes + fs.ffree), used: String(used.inodes), available: String(fs.ffree) },
      ],
      volume_condition: { abnormal: false, message: 'volume is healthy' },
    };
  }
}

