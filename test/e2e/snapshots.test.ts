// Issue #5 end to end on the real system: one `strata up` (a process) on a two-zone cluster, driven with kubectl.
// Point-in-time snapshots under a live writer restored into the other zone, the deletion policies and a
// pre-provisioned import, bad input with upstream's errors and events, and kill -9 of the whole process while
// snapshots are being cut. The backend is checked where the driver keeps it: snapshot dirs and records under
// <data dir>/driver.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import type { CoreEvent, PersistentVolume, PersistentVolumeClaim, Pod, VolumeSnapshot, VolumeSnapshotContent } from '../../src/api/types.ts';
import { processesMentioning, startUp, type UpProcess } from '../helpers/cluster.ts';
import { eventually, tempDir } from '../helpers/processes.ts';

const Driver = 'csi.strata.io';
const ZoneKey = 'topology.kubernetes.io/zone';
const GiB = 1024 ** 3;
const PVCAsSourceFinalizer = 'snapshot.storage.kubernetes.io/pvc-as-source-protection';

const clusterFile = `apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: snapshots-e2e}
spec:
  region: region-1
  zones:
    - {name: zone-a, zonalPool: 200Gi}
    - {name: zone-b, zonalPool: 200Gi}
  nodes:
    - {name: a1, zone: zone-a}
    - {name: b1, zone: zone-b}
`;

// zonal: restores land where their pod is scheduled; zonal-now: provisioned at once (no pod needed).
const baseObjects = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal}
provisioner: ${Driver}
parameters: {type: zonal}
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal-now}
provisioner: ${Driver}
parameters: {type: zonal}
allowedTopologies: [{matchLabelExpressions: [{key: ${ZoneKey}, values: [zone-a]}]}]
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: snap-delete}
driver: ${Driver}
deletionPolicy: Delete
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: snap-retain}
driver: ${Driver}
deletionPolicy: Retain
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: other-driver}
driver: other.csi.example.com
deletionPolicy: Delete
---
${claim('source', 'zonal', '1Gi')}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  nodeSelector: {${ZoneKey}: zone-a}
  containers:
    - name: writer
      image: busybox
      # f-<sequence> holds the time it was written (ns); written whole, then renamed into place.
      command: [sh, -c, 'i=0; while true; do i=$((i+1)); date +%s%N > /data/.next; mv /data/.next /data/$(printf f-%06d $i); sleep 0.02; done']
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: source}}]
`;

function claim(name: string, className: string, size: string, snapshot?: string): string {
  return `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec:
  storageClassName: ${className}
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: ${size}}}
${snapshot ? `  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: ${snapshot}}\n` : ''}`;
}

function snapshot(name: string, className: string, source: string): string {
  return `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: ${name}}
spec:
  volumeSnapshotClassName: ${className}
  source: {persistentVolumeClaimName: ${source}}
`;
}

/** A pod that prints "NAME CONTENT" for every f-* file of the claim, then exits. */
function reader(name: string, claimName: string, zone: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
  nodeSelector: {${ZoneKey}: ${zone}}
  containers:
    - name: reader
      image: busybox
      command: [sh, -c, 'cd /data && for f in f-*; do [ -e "$f" ] && echo "$f $(cat $f)"; done; echo END']
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claimName}}}]
`;
}

interface BackendSnapshot {
  id: string;
  name: string;
  state: string;
}

describe('volume snapshots end to end (strata up, two zones, kubectl)', () => {
  const dir = tempDir('strata-snapshots-e2e-');
  const dataDir = join(dir, 'data');
  const driverDir = join(dataDir, 'driver');
  const clusterPath = join(dir, 'cluster.yaml');
  writeFileSync(clusterPath, clusterFile);
  let up: UpProcess;

  const ok = (args: string[], input?: string) => up.ok(args, input);
  const apply = (yaml: string) => ok(['apply', '-f', '-'], yaml);
  const get = async <T>(kind: string, name: string): Promise<T> => JSON.parse(await ok(['get', kind, name, '-o', 'json'])) as T;
  const gone = async (kind: string, name: string) => {
    const r = await up.kubectl(['get', kind, name, '-o', 'name']);
    return r.code !== 0 && /NotFound/.test(r.stderr);
  };
  const waitGone = (kind: string, name: string, timeoutMs = 20_000) =>
    eventually(() => gone(kind, name), { timeoutMs, intervalMs: 200, what: `${kind} ${name} gone` });
  const events = async (name: string): Promise<CoreEvent[]> =>
    (JSON.parse(await ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as { items: CoreEvent[] }).items;
  const waitEvent = (name: string, reason: string, text: string, timeoutMs = 20_000) =>
    eventually(async () => (await events(name)).find((e) => e.reason === reason && e.message?.includes(text)), {
      timeoutMs,
      intervalMs: 250,
      what: `event ${reason} "${text}" on ${name}`,
    });
  const waitReady = (name: string, timeoutMs = 30_000) =>
    eventually(async () => {
      const vs = await get<VolumeSnapshot>('volumesnapshot', name);
      return vs.status?.readyToUse === true && vs;
    }, { timeoutMs, intervalMs: 200, what: `VolumeSnapshot ${name} readyToUse` });
  const waitPodDone = (name: string, timeoutMs = 30_000) =>
    eventually(async () => (await get<Pod>('pod', name)).status?.phase === 'Succeeded', { timeoutMs, intervalMs: 250, what: `pod ${name} Succeeded` });
  /** The reader's "NAME CONTENT" lines as a map. */
  const readerFiles = async (pod: string): Promise<Map<string, string>> => {
    const out = await ok(['logs', pod]);
    assert.match(out, /^END$/m, out);
    return new Map(out.split('\n').filter((l) => l.startsWith('f-')).map((l) => l.split(' ') as [string, string]));
  };
  const volumeDir = async (claimName: string) => {
    const pvc = await get<PersistentVolumeClaim>('pvc', claimName);
    const pv = await get<PersistentVolume>('pv', pvc.spec.volumeName!);
    return { pv, dir: join(driverDir, 'volumes', pv.spec.csi!.volumeHandle) };
  };
  const filesIn = (path: string) => new Map(readdirSync(path).filter((f) => f.startsWith('f-')).map((f) => [f, readFileSync(join(path, f), 'utf8').trim()]));
  // The driver's own records (SQLite in WAL mode: reading beside the running driver is safe).
  const backendSnapshots = (): BackendSnapshot[] => {
    const db = new DatabaseSync(join(driverDir, 'state.db'), { readOnly: true });
    try {
      return db.prepare('SELECT id, name, state FROM snapshots ORDER BY seq').all() as unknown as BackendSnapshot[];
    } finally {
      db.close();
    }
  };
  const snapshotDirs = () => readdirSync(join(driverDir, 'snapshots')).sort();
  const zonesOf = (pv: PersistentVolume) =>
    (pv.spec.nodeAffinity?.required?.nodeSelectorTerms ?? []).flatMap((t) => (t.matchExpressions ?? []).filter((e) => e.key === ZoneKey).flatMap((e) => e.values ?? []));

  before(async () => {
    up = await startUp({ dataDir, cluster: clusterPath });
    await apply(baseObjects);
    await eventually(async () => (await get<Pod>('pod', 'writer')).status?.phase === 'Running', { timeoutMs: 30_000, intervalMs: 200, what: 'writer Running' });
  });

  after(async () => {
    await up?.cleanup();
    // Whatever a failed test left: no process or mount may outlive the test.
    for (const pid of processesMentioning(dataDir)) process.kill(pid, 'SIGKILL');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(dir));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(mounts, [], 'no mount left behind');
  });

  it('a snapshot under a live writer holds one instant; restored in the other zone it holds exactly those files', async () => {
    const { pv: sourcePv, dir: sourceDir } = await volumeDir('source');
    await eventually(() => filesIn(sourceDir).size >= 20, { timeoutMs: 20_000, what: 'the writer wrote 20 files' });
    await apply(snapshot('pit', 'snap-delete', 'source'));
    const vs = await waitReady('pit');
    const contentName = vs.status!.boundVolumeSnapshotContentName!;
    assert.equal(contentName, `snapcontent-${vs.metadata.uid}`);
    assert.equal(vs.status!.restoreSize, '1Gi');
    assert.ok(vs.status!.creationTime);
    const content = await get<VolumeSnapshotContent>('volumesnapshotcontent', contentName);
    assert.equal(content.spec.volumeSnapshotRef.uid, vs.metadata.uid);
    assert.equal(content.spec.source.volumeHandle, sourcePv.spec.csi!.volumeHandle);
    assert.equal(content.spec.deletionPolicy, 'Delete');
    const handle = content.status!.snapshotHandle!;
    assert.match(handle, /^snap-[0-9a-f-]{36}$/);
    assert.equal(content.status!.restoreSize, GiB);
    assert.equal(content.status!.readyToUse, true);
    assert.ok(existsSync(join(driverDir, 'snapshots', handle)), 'the backend snapshot exists');
    assert.deepEqual(backendSnapshots().filter((s) => s.id === handle).map((s) => [s.name, s.state]), [[`snapshot-${vs.metadata.uid}`, 'ready']]);
    const instantNs = content.status!.creationTime!;

    // The writer goes on; the restore lands in zone-b because its pod must run there.
    await apply(`${claim('restored', 'zonal', '1Gi', 'pit')}---\n${reader('reader', 'restored', 'zone-b')}`);
    await waitPodDone('reader');
    const restored = await readerFiles('reader');
    assert.equal((await get<Pod>('pod', 'reader')).spec.nodeName, 'b1');
    const { pv: restoredPv } = await volumeDir('restored');
    assert.deepEqual(zonesOf(sourcePv), ['zone-a']);
    assert.deepEqual(zonesOf(restoredPv), ['zone-b']);
    assert.equal(restoredPv.spec.capacity?.storage, '1Gi');

    const source = filesIn(sourceDir);
    const names = [...restored.keys()].sort();
    assert.ok(names.length >= 20, `restored ${names.length} files`);
    // Exactly a prefix of the writer's sequence, each file as written: no gap, nothing half-written.
    assert.deepEqual(names, names.map((_, i) => `f-${String(i + 1).padStart(6, '0')}`));
    for (const [name, written] of restored) assert.equal(written, source.get(name), `${name} as the writer wrote it`);
    // Every restored file was written before the instant the driver reports (its clock has ms resolution) …
    const slackNs = 1_000_000;
    for (const [name, written] of restored) assert.ok(Number(written) <= instantNs + slackNs, `${name} written at ${written}, after the snapshot at ${instantNs}`);
    // … and the files written afterwards, which the source does hold, are absent. The writer may have been stopped
    // between taking the time and renaming the first of them into place, so only that one may predate the instant.
    const later = [...source].filter(([name]) => !restored.has(name)).sort(([a], [b]) => (a < b ? -1 : 1));
    assert.ok(later.length > 1, 'the writer kept writing after the snapshot');
    for (const [name, written] of later.slice(1)) assert.ok(Number(written) > instantNs - slackNs, `${name} (written ${written}) is missing from the restore`);
  });

  it('deletion policies: Delete removes content and backend snapshot, Retain keeps both, a pre-provisioned content imports the handle', async () => {
    // Delete (the restore above is Bound, so nothing holds the snapshot).
    const pit = await get<VolumeSnapshot>('volumesnapshot', 'pit');
    const pitContent = pit.status!.boundVolumeSnapshotContentName!;
    const pitHandle = (await get<VolumeSnapshotContent>('volumesnapshotcontent', pitContent)).status!.snapshotHandle!;
    await ok(['delete', 'volumesnapshot', 'pit', '--wait=false']);
    await waitGone('volumesnapshot', 'pit');
    await waitGone('volumesnapshotcontent', pitContent);
    await eventually(() => !existsSync(join(driverDir, 'snapshots', pitHandle)), { what: 'backend snapshot dir removed' });
    assert.equal(backendSnapshots().filter((s) => s.id === pitHandle).length, 0, 'backend record removed');

    // Retain.
    await apply(snapshot('kept', 'snap-retain', 'source'));
    const kept = await waitReady('kept');
    const keptContent = kept.status!.boundVolumeSnapshotContentName!;
    const handle = (await get<VolumeSnapshotContent>('volumesnapshotcontent', keptContent)).status!.snapshotHandle!;
    await ok(['delete', 'volumesnapshot', 'kept', '--wait=false']);
    await waitGone('volumesnapshot', 'kept');
    const retained = await get<VolumeSnapshotContent>('volumesnapshotcontent', keptContent);
    assert.equal(retained.metadata.deletionTimestamp, undefined);
    assert.equal(retained.status?.snapshotHandle, handle);
    assert.ok(existsSync(join(driverDir, 'snapshots', handle)), 'Retain keeps the backend snapshot');
    const keptFiles = filesIn(join(driverDir, 'snapshots', handle));

    // Import the retained handle as a pre-provisioned content and restore from it.
    await apply(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata: {name: imported-content}
spec:
  deletionPolicy: Delete
  driver: ${Driver}
  source: {snapshotHandle: ${handle}}
  volumeSnapshotRef: {name: imported, namespace: default}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: imported}
spec:
  source: {volumeSnapshotContentName: imported-content}
`);
    const imported = await waitReady('imported');
    assert.equal(imported.status!.boundVolumeSnapshotContentName, 'imported-content');
    assert.equal(imported.status!.restoreSize, '1Gi');
    const importedContent = await get<VolumeSnapshotContent>('volumesnapshotcontent', 'imported-content');
    assert.equal(importedContent.spec.volumeSnapshotRef.uid, imported.metadata.uid);
    assert.equal(importedContent.status!.snapshotHandle, handle);
    await apply(`${claim('from-import', 'zonal', '1Gi', 'imported')}---\n${reader('import-reader', 'from-import', 'zone-a')}`);
    await waitPodDone('import-reader');
    assert.deepEqual(await readerFiles('import-reader'), keptFiles);

    // The retained content goes without touching the backend; the imported one (Delete) takes the backend with it.
    await ok(['delete', 'volumesnapshotcontent', keptContent, '--wait=false']);
    await waitGone('volumesnapshotcontent', keptContent);
    assert.ok(existsSync(join(driverDir, 'snapshots', handle)), 'deleting a Retain content keeps the backend snapshot');
    await ok(['delete', 'volumesnapshot', 'imported', '--wait=false']);
    await waitGone('volumesnapshot', 'imported');
    await waitGone('volumesnapshotcontent', 'imported-content');
    await eventually(() => !existsSync(join(driverDir, 'snapshots', handle)), { what: 'imported backend snapshot removed' });
    assert.equal(backendSnapshots().filter((s) => s.id === handle).length, 0);
  });

  it('bad input gets upstream\'s errors and events, and leaks nothing', async () => {
    const backendBefore = backendSnapshots().map((s) => s.id);
    const volumesBefore = readdirSync(join(driverDir, 'volumes')).length;

    // Both sources: refused by the API (422) with the CRD's validation message.
    const both = await up.kubectl(['create', '-f', '-', '-v=6'], {
      input: `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: both}
spec:
  volumeSnapshotClassName: snap-delete
  source: {persistentVolumeClaimName: source, volumeSnapshotContentName: some-content}
`,
    });
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /POST https:\S+\/volumesnapshots\?\S* 422 Unprocessable Entity/);
    assert.match(both.stderr, /The VolumeSnapshot "both" is invalid: spec.source: Invalid value: "object": exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set/);
    assert.ok(await gone('volumesnapshot', 'both'));

    // A source PVC that does not exist.
    await apply(snapshot('no-pvc', 'snap-delete', 'does-not-exist'));
    const message = 'Failed to create snapshot content with error snapshot controller failed to update no-pvc on API server: cannot get claim from snapshot';
    await waitEvent('no-pvc', 'SnapshotContentCreationFailed', message);
    const noPvc = await get<VolumeSnapshot>('volumesnapshot', 'no-pvc');
    assert.equal(noPvc.status?.readyToUse, false);
    assert.equal(noPvc.status?.error?.message, message);
    assert.ok(await gone('volumesnapshotcontent', `snapcontent-${noPvc.metadata.uid}`));

    // A class of another driver: the common controller creates the content, no sidecar acts on it.
    await apply(snapshot('other', 'other-driver', 'source'));
    const other = await eventually(async () => {
      const s = await get<VolumeSnapshot>('volumesnapshot', 'other');
      return s.status?.boundVolumeSnapshotContentName ? s : undefined;
    }, { what: 'content bound for the other driver' });
    const otherContent = await get<VolumeSnapshotContent>('volumesnapshotcontent', other.status!.boundVolumeSnapshotContentName!);
    assert.equal(otherContent.spec.driver, 'other.csi.example.com');

    // A restore asking for less than the snapshot's restoreSize.
    await apply(snapshot('ready-src', 'snap-delete', 'source'));
    await waitReady('ready-src');
    await apply(claim('too-small', 'zonal-now', '500Mi', 'ready-src'));
    await waitEvent('too-small', 'ProvisioningFailed',
      'error getting handle for DataSource Type VolumeSnapshot by Name ready-src: requested volume size 524288000 is less than the size 1073741824 for the source snapshot ready-src');
    assert.equal((await get<PersistentVolumeClaim>('pvc', 'too-small')).status?.phase, 'Pending');

    // A restore from a snapshot that is not ready yet (its source is not bound): it waits, then succeeds.
    await apply(`${claim('late-src', 'zonal', '1Gi')}---\n${snapshot('late', 'snap-delete', 'late-src')}---\n${claim('late-restore', 'zonal-now', '1Gi', 'late')}`);
    await waitEvent('late-restore', 'ProvisioningFailed', 'error getting handle for DataSource Type VolumeSnapshot by Name late: snapshot late not bound');
    assert.equal((await get<VolumeSnapshot>('volumesnapshot', 'late')).status?.readyToUse, false);
    await apply(reader('late-writer', 'late-src', 'zone-a'));
    await waitReady('late');
    await eventually(async () => (await get<PersistentVolumeClaim>('pvc', 'late-restore')).status?.phase === 'Bound', {
      timeoutMs: 40_000, intervalMs: 250, what: 'late-restore Bound',
    });

    // The other driver's snapshot never became ready and no backend snapshot appeared for it.
    assert.equal((await get<VolumeSnapshot>('volumesnapshot', 'other')).status?.readyToUse, false);
    assert.equal((await get<VolumeSnapshotContent>('volumesnapshotcontent', otherContent.metadata.name!)).status, undefined);
    assert.ok(!backendSnapshots().some((s) => s.name === `snapshot-${other.metadata.uid}`));

    // Clean up; only the other driver's content needs its finalizer removed by hand, as its sidecar would.
    await ok(['delete', 'pod', 'late-writer']);
    await ok(['delete', 'pvc', 'too-small', 'late-restore', 'late-src', '--wait=false']);
    await ok(['delete', 'volumesnapshot', 'no-pvc', 'ready-src', 'late', 'other', '--wait=false']);
    await eventually(async () => (await get<VolumeSnapshotContent>('volumesnapshotcontent', otherContent.metadata.name!)).metadata.deletionTimestamp, { what: 'other content deleted' });
    await ok(['patch', 'volumesnapshotcontent', otherContent.metadata.name!, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    for (const name of ['no-pvc', 'ready-src', 'late', 'other']) await waitGone('volumesnapshot', name);
    for (const name of ['too-small', 'late-restore', 'late-src']) await waitGone('pvc', name);
    await eventually(() => {
      const now = backendSnapshots().map((s) => s.id);
      return now.length === backendBefore.length && now.every((id) => backendBefore.includes(id)) && readdirSync(join(driverDir, 'volumes')).length === volumesBefore;
    }, { timeoutMs: 20_000, what: 'backend snapshots and volumes as before' });
    await eventually(async () => !(await get<PersistentVolumeClaim>('pvc', 'source')).metadata.finalizers?.includes(PVCAsSourceFinalizer), {
      what: 'pvc-as-source-protection removed from the source PVC',
    });
    assert.equal(await ok(['get', 'volumesnapshotcontent', '-o', 'name']), '');
  });

  it('kill -9 of strata up while 24 snapshots are cut: after a restart each is ready with exactly one backend snapshot, and deletes clean', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `crash-${String(i).padStart(2, '0')}`);
    await apply(names.map((n) => snapshot(n, 'snap-delete', 'source')).join('---\n'));
    // Kill while the driver is in the middle of cutting (a record in state creating).
    await eventually(() => backendSnapshots().some((s) => s.state === 'creating'), { timeoutMs: 20_000, intervalMs: 5, what: 'a snapshot being cut' });
    process.kill(up.pid, 'SIGKILL');
    await up.exited;
    const atKill = backendSnapshots().filter((s) => s.state === 'ready').length;
    assert.ok(atKill < names.length, `killed with ${atKill} of ${names.length} snapshots ready`);

    up = await startUp({ dataDir, cluster: clusterPath });
    // Calls that failed around the kill retry with per-item exponential backoff (1 s doubling: after a slow restart one
    // step can be 32 s), so the wait leaves room for a long backoff step.
    const snapshots = await eventually(async () => {
      const list = (JSON.parse(await ok(['get', 'volumesnapshots', '-o', 'json'])) as { items: VolumeSnapshot[] }).items.filter((s) => names.includes(s.metadata.name!));
      return list.length === names.length && list.every((s) => s.status?.readyToUse === true) ? list : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500, what: 'every snapshot ready after the restart' });

    const backend = backendSnapshots();
    for (const s of snapshots) {
      const records = backend.filter((r) => r.name === `snapshot-${s.metadata.uid}`);
      assert.equal(records.length, 1, `one backend snapshot for ${s.metadata.name}`);
      assert.equal(records[0]!.state, 'ready');
      const content = await get<VolumeSnapshotContent>('volumesnapshotcontent', s.status!.boundVolumeSnapshotContentName!);
      assert.equal(content.status?.snapshotHandle, records[0]!.id);
      assert.equal(content.metadata.annotations?.['snapshot.storage.kubernetes.io/volumesnapshot-being-created'], undefined);
    }
    assert.deepEqual(snapshotDirs(), backend.map((r) => r.id).sort(), 'one dir per record, no orphan');
    assert.deepEqual(readdirSync(join(driverDir, 'scratch')), [], 'no half-made copy left');

    await ok(['delete', 'volumesnapshots', ...names, '--wait=false']);
    for (const n of names) await waitGone('volumesnapshot', n, 30_000);
    await eventually(async () => (await ok(['get', 'volumesnapshotcontent', '-o', 'name'])) === '', { what: 'every content gone' });
    await eventually(() => backendSnapshots().length === 0 && snapshotDirs().length === 0, { what: 'every backend snapshot gone' });
    const source = await get<PersistentVolumeClaim>('pvc', 'source');
    assert.ok(!source.metadata.finalizers?.includes(PVCAsSourceFinalizer), 'no finalizer left on the source PVC');

    await up.cleanup();
    assert.deepEqual(processesMentioning(dataDir), [], 'no component or container left');
  });
});

