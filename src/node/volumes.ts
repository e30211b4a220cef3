// A pod's volumes on the node, as the kubelet's volume manager handles them: claims must be bound (the desired state
// of world populator's checks and messages), CSI PVs are published through the node plugin into
// pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount, local PVs are bind-mounted into kubernetes.io~local-volume/<pv>,
// hostPath sources are used in place and emptyDir gets a directory. What is set up is recorded in the pod's
// directory so that a restarted agent can tear down the volumes of a pod deleted meanwhile.
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { PersistentVolume, PersistentVolumeAccessMode, Pod, Volume } from '../api/types.ts';
import { Resources } from '../client/resources.ts';
import type { KubeClient } from '../client/rest.ts';
import { CsiError } from '../csi/errors.ts';
import type { CsiClient } from '../csi/grpc.ts';
import type { AccessModeName, VolumeCapability } from '../csi/types.ts';
import { bindMount, exists, isMountPoint, parseMountInfo, unmount } from '../driver/files.ts';
import { VolumeNotReadyError, VolumeSetupError } from './errors.ts';
import { goList } from './status.ts';

/** One pod volume as set up on the node. */
export interface MountedVolume {
  /** The pod's volume name. */
  name: string;
  kind: 'csi' | 'local' | 'hostPath' | 'emptyDir';
  /** Where the volume's files are on the host. */
  hostPath: string;
  readOnly: boolean;
  csi?: { driver: string; volumeHandle: string };
}

/** What the node keeps about a pod in DATA/pods/<uid>/pod.json. */
export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  volumes: MountedVolume[];
}

/** A pod volume resolved to what has to be set up (claims followed to their PV). */
export interface VolumePlan {
  name: string;
  kind: MountedVolume['kind'];
  readOnly: boolean;
  /** The volume's name in kubelet events: the PV name for claims, the pod volume name otherwise. */
  specName: string;
  pv?: PersistentVolume;
  path?: string;
  hostPathType?: string;
}

export class PodDirs {
  readonly root: string;
  constructor(dataDir: string, uid: string) {
    this.root = join(dataDir, 'pods', uid);
  }
  get recordPath(): string {
    return join(this.root, 'pod.json');
  }
  csiTarget(pvName: string): string {
    return join(this.root, 'volumes', 'kubernetes.io~csi', pvName, 'mount');
  }
  localTarget(pvName: string): string {
    return join(this.root, 'volumes', 'kubernetes.io~local-volume', pvName);
  }
  emptyDir(name: string): string {
    return join(this.root, 'volumes', 'kubernetes.io~empty-dir', name);
  }
  containerDir(container: string): string {
    return join(this.root, 'containers', container);
  }
  logPath(container: string, restartCount: number): string {
    return join(this.root, 'logs', container, `${restartCount}.log`);
  }
}

export async function readPodRecord(dirs: PodDirs): Promise<PodRecord | undefined> {
  try {
    return JSON.parse(await readFile(dirs.recordPath, 'utf8')) as PodRecord;
  } catch {
    return undefined;
  }
}

export async function writePodRecord(dirs: PodDirs, record: PodRecord): Promise<void> {
  await mkdir(dirs.root, { recursive: true });
  await writeFile(dirs.recordPath, JSON.stringify(record));
}

/** The claim a pod volume uses: its persistentVolumeClaim, or the generic ephemeral volume's <pod>-<volume>. */
export function claimNameOf(pod: Pod, v: Volume): { claim: string; readOnly: boolean } | undefined {
  if (v.persistentVolumeClaim) return { claim: v.persistentVolumeClaim.claimName, readOnly: v.persistentVolumeClaim.readOnly === true };
  if (v.ephemeral) return { claim: `${pod.metadata.name}-${v.name}`, readOnly: false };
  return undefined;
}

/** The kubelet's FailedMount message for volumes that are not mounted when the wait times out. */
export function failedMountMessage(unmounted: string[], failed: string[], errors: string[]): string {
  const sorted = [...unmounted].sort();
  return `Unable to attach or mount volumes: unmounted volumes=${goList(sorted)}, unattached volumes=${goList([])}, failed to process volumes=${goList(failed)}: ${errors.join('; ')}`;
}

/** "rpc error: code = NotFound desc = …", as a Go gRPC error prints. */
export function rpcErrorText(err: unknown): string {
  if (!(err instanceof CsiError)) return (err as Error).message;
  const name = (grpcStatus[err.code] ?? String(err.code)).toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
  return `rpc error: code = ${name === 'Ok' ? 'OK' : name} desc = ${err.details}`;
}

function accessModeOf(modes: PersistentVolumeAccessMode[] | undefined): AccessModeName {
  // pkg/volume/csi asCSIAccessModeV1, from the PV's first access mode.
  switch (modes?.[0] ?? 'ReadWriteOnce') {
    case 'ReadOnlyMany':
      return 'MULTI_NODE_READER_ONLY';
    case 'ReadWriteMany':
      return 'MULTI_NODE_MULTI_WRITER';
    default:
      return 'SINGLE_NODE_WRITER';
  }
}

export interface VolumeContext {
  client: KubeClient;
  csi: CsiClient;
}

/** Follows every claim to its PV; throws VolumeNotReadyError with the populator's messages if any is not usable. */
export async function planVolumes(ctx: VolumeContext, pod: Pod): Promise<VolumePlan[]> {
  const ns = pod.metadata.namespace!;
  const plans: VolumePlan[] = [];
  const failed: string[] = [];
  const errors: string[] = [];
  for (const v of pod.spec.volumes ?? []) {
    const claim = claimNameOf(pod, v);
    if (!claim) {
      if (v.hostPath) plans.push({ name: v.name, specName: v.name, kind: 'hostPath', readOnly: false, path: v.hostPath.path, hostPathType: v.hostPath.type });
      else plans.push({ name: v.name, specName: v.name, kind: 'emptyDir', readOnly: false });
      continue;
    }
    try {
      const pv = await claimedVolume(ctx.client, ns, claim.claim);
      const readOnly = claim.readOnly;
      if (pv.spec.csi) plans.push({ name: v.name, specName: pv.metadata.name!, kind: 'csi', readOnly: readOnly || pv.spec.csi.readOnly === true, pv });
      else if (pv.spec.local) plans.push({ name: v.name, specName: pv.metadata.name!, kind: 'local', readOnly, pv, path: pv.spec.local.path });
      else if (pv.spec.hostPath) plans.push({ name: v.name, specName: pv.metadata.name!, kind: 'hostPath', readOnly, pv, path: pv.spec.hostPath.path, hostPathType: pv.spec.hostPath.type });
      else throw new Error(`volume ${pv.metadata.name} has a source this node cannot mount (only csi, local and hostPath)`);
    } catch (err) {
      failed.push(v.name);
      errors.push(`error processing PVC ${ns}/${claim.claim}: ${(err as Error).message}`);
    }
  }
  if (failed.length > 0) throw new VolumeNotReadyError(failed, errors.join('; '));
  return plans;
}

async function claimedVolume(client: KubeClient, ns: string, claimName: string): Promise<PersistentVolume> {
  let pvc;
  try {
    pvc = await client.resource(Resources.pvc).get(claimName, ns);
  } catch (err) {
    throw new Error(`failed to fetch PVC from API server: ${(err as Error).message}`);
  }
  if (pvc.metadata.deletionTimestamp) throw new Error('PVC is being deleted');
  if (pvc.status?.phase !== 'Bound') throw new Error('PVC is not bound');
  const pvName = pvc.spec.volumeName;
  if (!pvName) throw new Error('PVC has empty pvc.Spec.VolumeName');
  let pv;
  try {
    pv = await client.resource(Resources.pv).get(pvName);
  } catch (err) {
    throw new Error(`failed to fetch PV ${pvName} from API server: ${(err as Error).message}`);
  }
  const ref = pv.spec.claimRef;
  if (!ref) throw new Error(`found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`);
  if (ref.uid !== pvc.metadata.uid) {
    throw new Error(`found PV object ${pvName} but its pv.Spec.ClaimRef.UID (${ref.uid ?? ''}) does not point to claim.UID (${pvc.metadata.uid ?? ''})`);
  }
  return pv;
}

/** What setting up a planned volume mounts where (recorded before it is done, so a crash cannot leak it). */
export function describeVolume(dirs: PodDirs, plan: VolumePlan): MountedVolume {
  const base = { name: plan.name, kind: plan.kind, readOnly: plan.readOnly };
  switch (plan.kind) {
    case 'csi': {
      const { driver, volumeHandle } = plan.pv!.spec.csi!;
      return { ...base, hostPath: dirs.csiTarget(plan.specName), csi: { driver, volumeHandle } };
    }
    case 'local':
      return { ...base, hostPath: dirs.localTarget(plan.specName) };
    case 'hostPath':
      return { ...base, hostPath: plan.path! };
    case 'emptyDir':
      return { ...base, hostPath: dirs.emptyDir(plan.name) };
  }
}

/** Sets up a planned volume as `volume` describes it (idempotent). */
export async function setUpVolume(ctx: VolumeContext, plan: VolumePlan, volume: MountedVolume): Promise<void> {
  try {
    switch (plan.kind) {
      case 'csi': {
        const pv = plan.pv!;
        const source = pv.spec.csi!;
        await mkdir(join(volume.hostPath, '..'), { recursive: true });
        const capability: VolumeCapability = {
          mount: { fs_type: source.fsType ?? '', mount_flags: pv.spec.mountOptions ?? [] },
          access_mode: { mode: accessModeOf(pv.spec.accessModes) },
        };
        await ctx.csi.nodePublishVolume({
          volume_id: source.volumeHandle,
          target_path: volume.hostPath,
          volume_capability: capability,
          readonly: plan.readOnly,
          volume_context: source.volumeAttributes ?? {},
        });
        return;
      }
      case 'local':
        await mkdir(volume.hostPath, { recursive: true });
        if (!(await isMountPoint(volume.hostPath))) await bindMount(plan.path!, volume.hostPath, plan.readOnly);
        return;
      case 'hostPath':
        if (plan.hostPathType === 'DirectoryOrCreate') await mkdir(plan.path!, { recursive: true });
        else if (!(await exists(plan.path!))) throw new Error(`hostPath type check failed: ${plan.path} does not exist`);
        return;
      case 'emptyDir':
        await mkdir(volume.hostPath, { recursive: true, mode: 0o777 });
        return;
    }
  } catch (err) {
    throw new VolumeSetupError(plan.specName, `MountVolume.SetUp failed for volume "${plan.specName}" : ${rpcErrorText(err)}`);
  }
}

/** Undoes setUpVolume: NodeUnpublishVolume, unmount, or removing the emptyDir. */
export async function tearDownVolume(csi: CsiClient, v: MountedVolume): Promise<void> {
  switch (v.kind) {
    case 'csi':
      try {
        await csi.nodeUnpublishVolume({ volume_id: v.csi!.volumeHandle, target_path: v.hostPath });
      } catch (err) {
        // The volume is gone from the driver: nothing stays published, only our mount point may remain.
        if (!(err instanceof CsiError && err.code === grpcStatus.NOT_FOUND)) throw err;
        if (await isMountPoint(v.hostPath)) await unmount(v.hostPath);
      }
      await rmdir(join(v.hostPath, '..')).catch(() => undefined);
      return;
    case 'local':
      if (await isMountPoint(v.hostPath)) await unmount(v.hostPath);
      await rmdir(v.hostPath).catch(() => undefined);
      return;
    case 'emptyDir':
      await removeTreeWithoutMounts(v.hostPath);
      return;
    case 'hostPath':
      return;
  }
}

/** rm -rf, refused when something is still mounted below the path (it would delete a volume's data). */
export async function removeTreeWithoutMounts(path: string): Promise<void> {
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const busy = mounts.find((m) => m.mountPoint === path || m.mountPoint.startsWith(path + '/'));
  if (busy) throw new Error(`refusing to remove ${path}: ${busy.mountPoint} is still mounted`);
  await rm(path, { recursive: true, force: true });
}

/** The pod uids that have a directory under DATA/pods. */
export async function podDirUids(dataDir: string): Promise<string[]> {
  try {
    return await readdir(join(dataDir, 'pods'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
