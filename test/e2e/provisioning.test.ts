// Issue #3's provisioning flows end to end: the embedded API server, the real CSI driver on a unix socket with a small
// two-zone cluster, Node and CSINode objects as the node agent would register them, and the controller manager; driven
// and checked with kubectl.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { CoreEvent, CSINode, Node, PersistentVolume, PersistentVolumeClaim } from '../../src/api/types.ts';
import { parseClusterFile } from '../../src/api/cluster.ts';
import { startApiServer } from '../../src/apiserver/server.ts';
import type { RunningApiServer } from '../../src/apiserver/server.ts';
import { KubeClient, Resources } from '../../src/client/index.ts';
import { startControllerManager } from '../../src/controllers/manager.ts';
import type { RunningControllerManager } from '../../src/controllers/manager.ts';
import { connectCsi } from '../../src/csi/grpc.ts';
import type { CsiClient } from '../../src/csi/grpc.ts';
import { startCsiDriver } from '../../src/driver/driver.ts';
import type { RunningCsiDriver } from '../../src/driver/driver.ts';
import { eventually, makeKubectl, tempDir } from '../helpers/processes.ts';
import type { Kubectl } from '../helpers/processes.ts';

const ZoneKey = 'topology.kubernetes.io/zone';
const RegionKey = 'topology.kubernetes.io/region';
const HostnameKey = 'kubernetes.io/hostname';
const Driver = 'csi.strata.io';

const clusterFile = `
apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: e2e}
spec:
  region: region-1
  zones:
    - {name: zone-a, zonalPool: 100Gi}
    - {name: zone-b, zonalPool: 100Gi}
  nodes:
    - {name: n1, zone: zone-a, localPool: 50Gi}
    - {name: n2, zone: zone-b}
`;

const storageClass = (name: string, extra: string) => `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${name}}
provisioner: ${Driver}
parameters: {type: zonal}
${extra}`;

const claim = (name: string, className: string, size: string, extra = '') => `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: default}
spec:
  storageClassName: "${className}"
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: ${size}}}
${extra}`;

const staticVolume = (name: string, className: string, size: string, modes: string, extra = '') => `
apiVersion: v1
kind: PersistentVolume
metadata: {name: ${name}}
spec:
  storageClassName: "${className}"
  capacity: {storage: ${size}}
  accessModes: [${modes}]
  hostPath: {path: /tmp/strata-e2e-${name}}
${extra}`;

describe('provisioning end to end (API server, CSI driver, controller manager, kubectl)', () => {
  let dir: string;
  let server: RunningApiServer;
  let driver: RunningCsiDriver;
  let manager: RunningControllerManager;
  let client: KubeClient;
  let csi: CsiClient;
  let kubectl: Kubectl;
  let driverDataDir: string;

  const run = async (args: string[], input?: string): Promise<string> => {
    const r = await kubectl(args, { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await run(['get', ...args, '-o', 'json'])) as T;
  const apply = (yaml: string) => run(['apply', '-f', '-'], yaml);
  const volumeDir = (pv: PersistentVolume) => join(driverDataDir, 'volumes', pv.spec.csi!.volumeHandle);
  const volumeDirs = () => readdirSync(join(driverDataDir, 'volumes')).sort();
  const claimPhase = async (name: string) => (await client.resource(Resources.pvc).get(name, 'default')).status?.phase;
  const waitBound = (name: string, timeoutMs = 10_000) =>
    eventually(async () => (await claimPhase(name)) === 'Bound', { timeoutMs, intervalMs: 10, what: `claim ${name} Bound` });
  const eventsOf = async (kind: string, name: string) =>
    (await getJson<{ items: CoreEvent[] }>(['events', '-n', 'default', '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`])).items;
  const zonesOf = (pv: PersistentVolume) =>
    (pv.spec.nodeAffinity?.required?.nodeSelectorTerms ?? []).flatMap((t) => (t.matchExpressions ?? []).filter((e) => e.key === ZoneKey).flatMap((e) => e.values ?? []));
  /** The zone the driver itself reports for the volume. */
  const driverZoneOf = async (pv: PersistentVolume) => {
    const { volume } = await csi.controllerGetVolume({ volume_id: pv.spec.csi!.volumeHandle });
    return volume.accessible_topology.map((t) => t.segments[ZoneKey]);
  };

  before(async () => {
    dir = tempDir('strata-provisioning-e2e-');
    driverDataDir = join(dir, 'driver');
    server = await startApiServer({ dataDir: join(dir, 'apiserver'), port: 0, storage: 'memory' });
    kubectl = makeKubectl(server.kubeconfigPath);
    client = KubeClient.fromKubeconfig(server.kubeconfigPath);
    const cluster = parseClusterFile(clusterFile, 'e2e cluster');
    const endpoint = `unix://${join(dir, 'csi.sock')}`;
    driver = await startCsiDriver({ endpoint, mode: 'all', nodeId: 'n1', dataDir: driverDataDir, cluster });
    csi = connectCsi(endpoint);
    // What the node agent registers: Nodes with topology labels and CSINodes naming the driver's topology keys.
    for (const node of cluster.nodes) {
      const labels = { [HostnameKey]: node.name, [ZoneKey]: node.zone, [RegionKey]: cluster.region };
      await client.resource(Resources.nodes).create({ apiVersion: 'v1', kind: 'Node', metadata: { name: node.name, labels }, spec: {} } as Node);
      await client.resource(Resources.csiNodes).create({
        apiVersion: 'storage.k8s.io/v1',
        kind: 'CSINode',
        metadata: { name: node.name },
        spec: { drivers: [{ name: Driver, nodeID: node.name, topologyKeys: [HostnameKey, RegionKey, ZoneKey] }] },
      } as CSINode);
    }
    manager = await startControllerManager({ client, csiEndpoint: endpoint, logger: pino({ level: process.env.E2E_LOG ?? 'silent' }) });
    await apply(storageClass('zonal', 'reclaimPolicy: Delete\nvolumeBindingMode: Immediate'));
    await apply(storageClass('zonal-retain', 'reclaimPolicy: Retain\nvolumeBindingMode: Immediate'));
    await apply(storageClass('zonal-wffc', 'reclaimPolicy: Delete\nvolumeBindingMode: WaitForFirstConsumer'));
  });

  after(async () => {
    await manager?.close();
    csi?.close();
    client?.close();
    await driver?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the CSIDriver object the driver needs', async () => {
    const csiDriver = await getJson<{ spec: Record<string, unknown> }>(['csidriver', Driver]);
    assert.equal(csiDriver.spec.attachRequired, false);
    assert.equal(csiDriver.spec.storageCapacity, true);
    assert.equal(csiDriver.spec.podInfoOnMount, false);
  });

  it('Immediate: a PVC is Bound within a second to a PV in the zone its volume lives in; Delete removes PV and volume', async (t) => {
    const started = Date.now();
    await apply(claim('fast', 'zonal', '1Gi'));
    const applied = Date.now();
    await waitBound('fast');
    const boundAfterMs = Date.now() - applied;
    t.diagnostic(`Bound ${boundAfterMs} ms after kubectl apply returned`);
    assert.ok(boundAfterMs < 1000, `Bound ${boundAfterMs} ms after kubectl apply returned (${applied - started} ms in kubectl)`);

    const pvc = await getJson<PersistentVolumeClaim>(['pvc', 'fast', '-n', 'default']);
    assert.equal(pvc.status?.phase, 'Bound');
    assert.equal(pvc.spec.volumeName, `pvc-${pvc.metadata.uid}`);
    assert.equal(pvc.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(pvc.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], Driver);
    assert.equal(pvc.status?.capacity?.storage, '1Gi');
    const pv = await getJson<PersistentVolume>(['pv', pvc.spec.volumeName!]);
    assert.equal(pv.status?.phase, 'Bound');
    assert.equal(pv.spec.csi?.driver, Driver);
    assert.equal(pv.spec.claimRef?.uid, pvc.metadata.uid);
    assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Delete');
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], Driver);
    assert.ok(pv.metadata.finalizers?.includes('external-provisioner.volume.kubernetes.io/finalizer'), JSON.stringify(pv.metadata.finalizers));
    const zones = zonesOf(pv);
    assert.equal(zones.length, 1, JSON.stringify(pv.spec.nodeAffinity));
    assert.deepEqual(await driverZoneOf(pv), zones);
    assert.ok(existsSync(volumeDir(pv)), `${volumeDir(pv)} exists`);
    const reasons = (await eventsOf('PersistentVolumeClaim', 'fast')).map((e) => e.reason);
    for (const reason of ['ExternalProvisioning', 'Provisioning', 'ProvisioningSucceeded']) assert.ok(reasons.includes(reason), `${reason} in ${reasons}`);

    await run(['delete', 'pvc', 'fast', '-n', 'default']);
    await eventually(async () => (await kubectl(['get', 'pv', pv.metadata.name!])).code !== 0, { what: 'PV deleted' });
    assert.match((await kubectl(['get', 'pv', pv.metadata.name!])).stderr, /NotFound|not found/);
    await eventually(() => !existsSync(volumeDir(pv)), { what: 'volume directory removed' });
  });

  it('Retain: deleting the PVC leaves a Released PV and its data', async () => {
    await apply(claim('keep', 'zonal-retain', '1Gi'));
    await waitBound('keep');
    const pvc = await getJson<PersistentVolumeClaim>(['pvc', 'keep', '-n', 'default']);
    const pv = await getJson<PersistentVolume>(['pv', pvc.spec.volumeName!]);
    assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Retain');
    writeFileSync(join(volumeDir(pv), 'data.txt'), 'keep me');

    await run(['delete', 'pvc', 'keep', '-n', 'default']);
    await eventually(async () => (await client.resource(Resources.pv).get(pv.metadata.name!)).status?.phase === 'Released', { what: 'PV Released' });
    await new Promise((r) => setTimeout(r, 300)); // give a wrong deletion time to happen
    const released = await getJson<PersistentVolume>(['pv', pv.metadata.name!]);
    assert.equal(released.status?.phase, 'Released');
    assert.ok(!released.metadata.deletionTimestamp);
    assert.ok(existsSync(join(volumeDir(pv), 'data.txt')), 'the data is still there');
  });

  it('a PVC larger than any pool gets ProvisioningFailed saying so, stays Pending and leaves nothing behind', async () => {
    const dirsBefore = volumeDirs();
    await apply(claim('huge', 'zonal', '1Ti'));
    const pvc = await getJson<PersistentVolumeClaim>(['pvc', 'huge', '-n', 'default']);
    const failed = await eventually(async () => (await eventsOf('PersistentVolumeClaim', 'huge')).find((e) => e.reason === 'ProvisioningFailed'), { what: 'ProvisioningFailed event' });
    assert.equal(failed.type, 'Warning');
    assert.match(failed.message ?? '', /^failed to provision volume with StorageClass "zonal": rpc error: code = OutOfRange desc = requested 1099511627776 bytes, more than the largest zonal pool holds \(107374182400 bytes\)$/);
    assert.equal((await getJson<PersistentVolumeClaim>(['pvc', 'huge', '-n', 'default'])).status?.phase, 'Pending');
    assert.notEqual((await kubectl(['get', 'pv', `pvc-${pvc.metadata.uid}`])).code, 0, 'no PV');
    assert.deepEqual(volumeDirs(), dirsBefore, 'no volume directory');
    await run(['delete', 'pvc', 'huge', '-n', 'default', '--wait=false']);
  });

  it('static PVs bind by the upstream rules: prebound PV, prebound PVC, selector, access modes, smallest fit', async () => {
    await apply([
      staticVolume('pre-pv', 'static-pre', '10Gi', 'ReadWriteOnce', '  claimRef: {namespace: default, name: pre}'),
      staticVolume('pre-small', 'static-pre', '2Gi', 'ReadWriteOnce'),
      staticVolume('want-pv', 'static-want', '5Gi', 'ReadWriteOnce'),
      staticVolume('want-small', 'static-want', '1Gi', 'ReadWriteOnce'),
      staticVolume('sel-gold', 'static-sel', '5Gi', 'ReadWriteOnce').replace('metadata: {name: sel-gold}', 'metadata: {name: sel-gold, labels: {tier: gold}}'),
      staticVolume('sel-silver', 'static-sel', '1Gi', 'ReadWriteOnce').replace('metadata: {name: sel-silver}', 'metadata: {name: sel-silver, labels: {tier: silver}}'),
      staticVolume('modes-rwo', 'static-modes', '1Gi', 'ReadWriteOnce'),
      staticVolume('modes-rwx', 'static-modes', '5Gi', 'ReadWriteMany'),
      staticVolume('fit-1g', 'static-fit', '1Gi', 'ReadWriteOnce'),
      staticVolume('fit-5g', 'static-fit', '5Gi', 'ReadWriteOnce'),
      staticVolume('fit-10g', 'static-fit', '10Gi', 'ReadWriteOnce'),
    ].join('\n---'));
    const names = ['pre-pv', 'pre-small', 'want-pv', 'want-small', 'sel-gold', 'sel-silver', 'modes-rwo', 'modes-rwx', 'fit-1g', 'fit-5g', 'fit-10g'];
    await eventually(async () => {
      const pvs = await client.resource(Resources.pv).list();
      return names.every((n) => pvs.items.find((pv) => pv.metadata.name === n)?.status?.phase === 'Available');
    }, { what: 'static PVs Available' });

    await apply([
      claim('pre', 'static-pre', '1Gi'),
      claim('want', 'static-want', '1Gi', '  volumeName: want-pv'),
      claim('sel', 'static-sel', '1Gi', '  selector: {matchLabels: {tier: gold}}'),
      claim('modes', 'static-modes', '1Gi').replace('accessModes: [ReadWriteOnce]', 'accessModes: [ReadWriteMany]'),
      claim('fit', 'static-fit', '3Gi'),
    ].join('\n---'));
    const expected: Record<string, string> = { pre: 'pre-pv', want: 'want-pv', sel: 'sel-gold', modes: 'modes-rwx', fit: 'fit-5g' };
    for (const name of Object.keys(expected)) await waitBound(name);
    const claims = await getJson<{ items: PersistentVolumeClaim[] }>(['pvc', '-n', 'default']);
    for (const [name, volume] of Object.entries(expected)) {
      const pvc = claims.items.find((c) => c.metadata.name === name)!;
      assert.equal(pvc.spec.volumeName, volume, `claim ${name}`);
      assert.equal(pvc.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
      // The controller chose the volume unless the user named it in the claim.
      assert.equal(pvc.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], name === 'want' ? undefined : 'yes', `claim ${name}`);
    }
    const pvs = await getJson<{ items: PersistentVolume[] }>(['pv']);
    const phaseOf = (n: string) => pvs.items.find((pv) => pv.metadata.name === n)?.status?.phase;
    for (const volume of Object.values(expected)) assert.equal(phaseOf(volume), 'Bound', volume);
    for (const spare of ['pre-small', 'want-small', 'sel-silver', 'modes-rwo', 'fit-1g', 'fit-10g']) assert.equal(phaseOf(spare), 'Available', spare);
    // A PV pre-bound by its creator is not marked as bound by the controller.
    assert.equal(pvs.items.find((pv) => pv.metadata.name === 'pre-pv')?.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined);
    assert.equal(pvs.items.find((pv) => pv.metadata.name === 'fit-5g')?.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
  });

  it('WaitForFirstConsumer: Pending with the WaitForFirstConsumer event until a node is selected, then provisioned in its zone', async () => {
    await apply(claim('late', 'zonal-wffc', '2Gi'));
    const waiting = await eventually(async () => (await eventsOf('PersistentVolumeClaim', 'late')).find((e) => e.reason === 'WaitForFirstConsumer'), { what: 'WaitForFirstConsumer event' });
    assert.equal(waiting.message, 'waiting for first consumer to be created before binding');
    assert.equal(await claimPhase('late'), 'Pending');

    // The capacity the scheduler would read: one object per topology segment of the WaitForFirstConsumer class.
    const capacities = await eventually(async () => {
      const list = await getJson<{ items: Array<{ storageClassName: string; capacity?: string; nodeTopology?: { matchLabels?: Record<string, string> } }> }>(['csistoragecapacities', '-n', 'kube-system']);
      const mine = list.items.filter((c) => c.storageClassName === 'zonal-wffc');
      return mine.length === 2 ? mine : undefined;
    }, { what: 'CSIStorageCapacity objects' });
    assert.deepEqual(capacities.map((c) => c.nodeTopology?.matchLabels?.[ZoneKey]).sort(), ['zone-a', 'zone-b']);

    await run(['annotate', 'pvc', 'late', '-n', 'default', 'volume.kubernetes.io/selected-node=n2']);
    await waitBound('late');
    const pvc = await getJson<PersistentVolumeClaim>(['pvc', 'late', '-n', 'default']);
    const pv = await getJson<PersistentVolume>(['pv', pvc.spec.volumeName!]);
    assert.deepEqual(zonesOf(pv), ['zone-b']);
    assert.deepEqual(await driverZoneOf(pv), ['zone-b']);
    assert.ok(existsSync(volumeDir(pv)));
  });

  it('a provisioned local volume refreshes the CSIStorageCapacity of its node at once, not the others', async () => {
    await apply(`
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-wffc}
provisioner: ${Driver}
parameters: {type: local}
volumeBindingMode: WaitForFirstConsumer`);
    type Capacity = { storageClassName: string; capacity?: string; nodeTopology?: { matchLabels?: Record<string, string> } };
    const localCapacities = async () => {
      const list = await getJson<{ items: Capacity[] }>(['csistoragecapacities', '-n', 'kube-system']);
      return Object.fromEntries(list.items.filter((c) => c.storageClassName === 'local-wffc').map((c) => [c.nodeTopology?.matchLabels?.[HostnameKey], c.capacity]));
    };
    const before = await eventually(async () => {
      const byNode = await localCapacities();
      return byNode.n1 === '50Gi' && byNode.n2 ? byNode : undefined;
    }, { what: 'CSIStorageCapacity objects of local-wffc' });
    await apply(claim('mine', 'local-wffc', '5Gi').replace('metadata: {name: mine, namespace: default}', `metadata: {name: mine, namespace: default, annotations: {volume.kubernetes.io/selected-node: n1}}`));
    await waitBound('mine');
    // Upstream's provisionWrapper: the segments the new volume's node affinity names are refreshed now; the periodic
    // poll (30 s) would be too late for this wait.
    const after = await eventually(async () => {
      const byNode = await localCapacities();
      return byNode.n1 === '45Gi' ? byNode : undefined;
    }, { what: 'n1 capacity refreshed after provisioning', timeoutMs: 5000 });
    assert.equal(after.n2, before.n2);
  });
});
