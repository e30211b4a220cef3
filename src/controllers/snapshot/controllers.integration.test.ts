// The snapshot controller and the snapshotter sidecar together against Strata's embedded API server, with an
// in-memory CSI driver: a burst of dynamic snapshots becomes ready with one backend snapshot each, the source PVCs are
// released, and deleting them (Delete policy) removes contents and backend snapshots. Skipped when the API server
// module is not there.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { PersistentVolume, PersistentVolumeClaim, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import type { Logger } from '../../client/logger.ts';
import { Resources } from '../../client/resources.ts';
import { KubeClient } from '../../client/rest.ts';
import type { CsiClient } from '../../csi/grpc.ts';
import type { Snapshot } from '../../csi/types.ts';
import { SnapshotterController } from '../snapshotter/controller.ts';
import { SnapshotController } from './controller.ts';
import { PVCAsSourceFinalizer } from './utils.ts';

interface RunningApiServer {
  kubeconfigPath: string;
  close(): Promise<void>;
}
type StartApiServer = (opts: { dataDir: string; port?: number; storage?: 'memory' | 'sqlite' }) => Promise<RunningApiServer>;
let startApiServer: StartApiServer | undefined;
try {
  ({ startApiServer } = (await import(new URL('../../apiserver/server.ts', import.meta.url).href)) as { startApiServer: StartApiServer });
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
}
const skip = startApiServer ? false : 'src/apiserver/server.ts is not there';

const driverName = 'hostpath.csi.strata.io';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The controller RPCs the sidecar uses, backed by a map: CreateSnapshot is idempotent by name. */
function fakeDriver() {
  const snapshots = new Map<string, Snapshot>();
  let creates = 0;
  const csi = {
    getPluginInfo: async () => ({ name: driverName, vendor_version: '1', manifest: {} }),
    controllerGetCapabilities: async () => ({ capabilities: [{ rpc: { type: 'CREATE_DELETE_SNAPSHOT' } }, { rpc: { type: 'LIST_SNAPSHOTS' } }] }),
    createSnapshot: async (req: { name: string; source_volume_id: string }) => {
      creates++;
      let s = snapshots.get(req.name);
      if (!s) {
        s = { snapshot_id: `id-${req.name}`, source_volume_id: req.source_volume_id, size_bytes: String(1 << 30), creation_time: { seconds: '1700000000', nanos: 0 }, ready_to_use: true, group_snapshot_id: '' };
        snapshots.set(req.name, s);
      }
      return { snapshot: s };
    },
    deleteSnapshot: async (req: { snapshot_id: string }) => {
      for (const [k, v] of snapshots) if (v.snapshot_id === req.snapshot_id) snapshots.delete(k);
      return {};
    },
    listSnapshots: async (req: { snapshot_id: string }) => ({
      entries: [...snapshots.values()].filter((s) => s.snapshot_id === req.snapshot_id).map((snapshot) => ({ snapshot })),
      next_token: '',
    }),
    close() {},
  };
  return { csi: csi as unknown as CsiClient, snapshots, creates: () => creates };
}

async function eventually(check: () => Promise<void>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('snapshot controllers against the embedded API server', { skip }, () => {
  let dataDir: string;
  let server: RunningApiServer;
  let client: KubeClient;
  const abort = new AbortController();
  const driver = fakeDriver();
  const registry = new Registry();
  let running: Promise<unknown>;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-snapshot-it-'));
    server = await startApiServer!({ dataDir, port: 0, storage: 'memory' });
    client = KubeClient.fromKubeconfig(server.kubeconfigPath);
    const common = new SnapshotController({ client, registry, logger: silent });
    const sidecar = new SnapshotterController({ client, csi: driver.csi, logger: silent });
    running = Promise.all([common.run(abort.signal), sidecar.run(abort.signal)]);
  });

  after(async () => {
    abort.abort();
    await running;
    client?.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a burst of dynamic snapshots becomes ready, then is deleted without leaks', async () => {
    const claims = 4;
    const perClaim = 10;
    await client.resource(Resources.volumeSnapshotClasses).create({
      apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'csi-snapclass', annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'true' } },
      driver: driverName, deletionPolicy: 'Delete', parameters: { param: 'value' },
    } as VolumeSnapshotClass);
    const pvcs = client.resource(Resources.pvc);
    for (let i = 0; i < claims; i++) {
      const pvc = await pvcs.create({
        apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `data-${i}`, namespace: 'default' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '', volumeName: `pv-${i}` },
      } as PersistentVolumeClaim);
      await client.resource(Resources.pv).create({
        apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `pv-${i}` },
        spec: {
          capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', persistentVolumeReclaimPolicy: 'Delete',
          claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: `data-${i}`, uid: pvc.metadata.uid },
          csi: { driver: driverName, volumeHandle: `vol-${i}` },
        },
      } as PersistentVolume);
      await pvcs.patch(`data-${i}`, { status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] } }, 'merge', 'default', { subresource: 'status' });
    }
    const vs = client.resource(Resources.volumeSnapshots);
    const names: string[] = [];
    await Promise.all(
      Array.from({ length: claims * perClaim }, (_, j) => {
        const name = `snap-${j}`;
        names.push(name);
        return vs.create({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name, namespace: 'default' }, spec: { source: { persistentVolumeClaimName: `data-${j % claims}` } } } as VolumeSnapshot);
      }),
    );
    await eventually(async () => {
      const list = await vs.list({ namespace: 'default' });
      const ready = list.items.filter((s) => s.status?.readyToUse === true);
      assert.equal(ready.length, names.length, `${ready.length}/${names.length} ready`);
      for (const s of ready) {
        assert.equal(s.spec.volumeSnapshotClassName, 'csi-snapclass');
        assert.equal(s.status?.restoreSize, '1Gi');
      }
    });
    assert.equal(driver.snapshots.size, names.length, 'one backend snapshot per VolumeSnapshot');
    const contents = (await client.resource(Resources.volumeSnapshotContents).list()).items as VolumeSnapshotContent[];
    assert.equal(contents.length, names.length);
    for (const c of contents) assert.equal(c.metadata.annotations?.['snapshot.storage.kubernetes.io/volumesnapshot-being-created'], undefined);
    await eventually(async () => {
      for (const pvc of (await pvcs.list({ namespace: 'default' })).items) assert.ok(!pvc.metadata.finalizers?.includes(PVCAsSourceFinalizer), `${pvc.metadata.name} released`);
    });
    assert.match(await registry.metrics(), /operation_name="CreateSnapshotAndReady",snapshot_type="dynamic",operation_status="success"\} 40/);

    await Promise.all(names.map((n) => vs.delete(n, 'default')));
    await eventually(async () => {
      assert.equal((await vs.list({ namespace: 'default' })).items.length, 0, 'snapshots gone');
      assert.equal((await client.resource(Resources.volumeSnapshotContents).list()).items.length, 0, 'contents gone');
      assert.equal(driver.snapshots.size, 0, 'backend snapshots gone');
    });
  });
});
