// The provisioner's view of a CSI driver (CsiControllerClient, camelCase with bigint sizes) over the generated gRPC
// client (snake_case, int64 as decimal strings), and the driver facts external-provisioner learns at start-up:
// its name (GetPluginInfo) and capabilities (GetPluginCapabilities, ControllerGetCapabilities).
import { setTimeout as sleep } from 'node:timers/promises';
import type { CsiClient } from '../../csi/grpc.ts';
import type { Topology, VolumeCapability, VolumeContentSource } from '../../csi/types.ts';
import type { CsiContentSource, CsiControllerClient, CsiTopology, CsiVolumeCapability, DriverCapabilities } from './provisioner-logic.ts';

const toTopology = (t: CsiTopology): Topology => ({ segments: t.segments });
const fromTopology = (t: Topology): CsiTopology => ({ segments: { ...t.segments } });

function toCapability(c: CsiVolumeCapability): VolumeCapability {
  const accessMode = { mode: c.accessMode.mode };
  return c.block ? { block: {}, access_mode: accessMode } : { mount: { fs_type: c.mount?.fsType ?? '', mount_flags: c.mount?.mountFlags ?? [] }, access_mode: accessMode };
}

function toContentSource(s: CsiContentSource): VolumeContentSource {
  return s.snapshot ? { snapshot: { snapshot_id: s.snapshot.snapshotId } } : { volume: { volume_id: s.volume?.volumeId ?? '' } };
}

function fromContentSource(s: VolumeContentSource | null): CsiContentSource | undefined {
  if (s?.snapshot) return { snapshot: { snapshotId: s.snapshot.snapshot_id ?? '' } };
  if (s?.volume) return { volume: { volumeId: s.volume.volume_id ?? '' } };
  return undefined;
}

/** The provisioner's CSI controller calls over a connectCsi client; errors pass through with their gRPC code. */
export function csiControllerClient(csi: CsiClient): CsiControllerClient {
  return {
    async createVolume(req) {
      const { volume } = await csi.createVolume({
        name: req.name,
        capacity_range: { required_bytes: req.capacityRange.requiredBytes.toString(), limit_bytes: '0' },
        volume_capabilities: req.volumeCapabilities.map(toCapability),
        parameters: req.parameters,
        secrets: {},
        volume_content_source: req.volumeContentSource ? toContentSource(req.volumeContentSource) : null,
        accessibility_requirements: req.accessibilityRequirements
          ? { requisite: req.accessibilityRequirements.requisite, preferred: req.accessibilityRequirements.preferred }
          : null,
      });
      return {
        volume: {
          capacityBytes: BigInt(volume.capacity_bytes || 0),
          volumeId: volume.volume_id,
          volumeContext: volume.volume_context,
          contentSource: fromContentSource(volume.content_source),
          accessibleTopology: (volume.accessible_topology ?? []).map(fromTopology),
        },
      };
    },
    async deleteVolume(req) {
      await csi.deleteVolume({ volume_id: req.volumeId, secrets: {} });
    },
    async getCapacity(req) {
      const res = await csi.getCapacity({
        volume_capabilities: req.volumeCapabilities.map(toCapability),
        parameters: req.parameters,
        accessible_topology: req.accessibleTopology ? toTopology(req.accessibleTopology) : null,
      });
      return {
        availableCapacity: BigInt(res.available_capacity || 0),
        maximumVolumeSize: res.maximum_volume_size ? BigInt(res.maximum_volume_size.value || 0) : undefined,
      };
    },
  };
}

export interface DriverInfo {
  name: string;
  capabilities: DriverCapabilities;
}

/**
 * GetPluginInfo and the capabilities, retried every second until the driver answers (it may start after us, as
 * external-provisioner waits for its socket) or the signal aborts.
 */
export async function probeDriver(csi: CsiClient, signal?: AbortSignal): Promise<DriverInfo> {
  for (;;) {
    try {
      const [info, plugin, controller] = await Promise.all([
        csi.getPluginInfo({}, { timeoutMs: 5000 }),
        csi.getPluginCapabilities({}, { timeoutMs: 5000 }),
        csi.controllerGetCapabilities({}, { timeoutMs: 5000 }),
      ]);
      const rpcs = new Set(controller.capabilities.map((c) => c.rpc?.type));
      return {
        name: info.name,
        capabilities: {
          topology: plugin.capabilities.some((c) => 'service' in c && c.service.type === 'VOLUME_ACCESSIBILITY_CONSTRAINTS'),
          snapshot: rpcs.has('CREATE_DELETE_SNAPSHOT'),
          clone: rpcs.has('CLONE_VOLUME'),
          singleNodeMultiWriter: rpcs.has('SINGLE_NODE_MULTI_WRITER'),
        },
      };
    } catch (err) {
      if (signal?.aborted) throw err;
      await sleep(1000, undefined, { signal }).catch(() => undefined);
      if (signal?.aborted) throw err;
    }
  }
}
