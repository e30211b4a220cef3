// csi-sanity's Node and snapshot groups, point-in-time snapshots under a live writer, and crash/retry, against real
// driver processes sharing one data dir (controller+node for node-a1, node-only for node-d1).
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CsiError } from '../csi/errors.ts';
import { childExited } from '../../test/helpers/processes.ts';
import { type DriverProcess, mountCapability, startDriverProcess, tempDir } from './testing.ts';

const MiB = 1024 ** 2;
const caps = [mountCapability()];

async function rejects(p: Promise<unknown>, code: status): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CsiError, String(err));
    assert.equal(status[err.code], status[code], err.details);
    return true;
  });
}

let dir: string;
let dataDir: string;
let driver: DriverProcess;
let nodeD: DriverProcess;
before(async () => {
  dir = await tempDir('strata-csi-node-');
  dataDir = join(dir, 'data');
  driver = await startDriverProcess({ dataDir, socketDir: dir, nodeId: 'node-a1' });
  nodeD = await startDriverProcess({ dataDir, socketDir: dir, nodeId: 'node-d1', mode: 'node' });
});
after(async () => {
  await driver.stop();
  await nodeD.stop();
  await rm(dir, { recursive: true, force: true });
});

async function volume(name: string, extra: object = {}) {
  return (await driver.client.createVolume({ name, volume_capabilities: caps, capacity_range: { required_bytes: String(8 * MiB) }, ...extra })).volume;
}

describe('Node Service', () => {
  test('NodeGetCapabilities and NodeGetInfo', async () => {
    const capTypes = (await driver.client.nodeGetCapabilities()).capabilities.map((c) => c.rpc.type);
    assert.ok(capTypes.includes('GET_VOLUME_STATS'));
    const info = await driver.client.nodeGetInfo();
    assert.equal(info.node_id, 'node-a1');
    assert.equal(info.max_volumes_per_node, '16');
    assert.deepEqual(info.accessible_topology?.segments, {
      'topology.kubernetes.io/region': 'region-1',
      'topology.kubernetes.io/zone': 'zone-a',
      'kubernetes.io/hostname': 'node-a1',
    });
    const caps = (await nodeD.client.getPluginCapabilities()).capabilities;
    assert.ok(!caps.some((c) => 'service' in c && c.service.type === 'CONTROLLER_SERVICE'), 'node mode serves no controller');
  });

  test('NodePublishVolume / NodeUnpublishVolume: bind mount, read-only, idempotent, stats', async () => {
    const v = await volume('pub', { accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-a' } }] } });
    const target = join(dir, 'pods', 'p1', 'vol');
    await rejects(driver.client.nodePublishVolume({ target_path: target, volume_capability: mountCapability() }), status.INVALID_ARGUMENT);
    await rejects(driver.client.nodePublishVolume({ volume_id: v.volume_id, volume_capability: mountCapability() }), status.INVALID_ARGUMENT);
    await rejects(driver.client.nodePublishVolume({ volume_id: v.volume_id, target_path: target }), status.INVALID_ARGUMENT);
    await driver.client.nodePublishVolume({ volume_id: v.volume_id, target_path: target, volume_capability: mountCapability() });
    await driver.client.nodePublishVolume({ volume_id: v.volume_id, target_path: target, volume_capability: mountCapability() });
    await writeFile(join(target, 'hello.txt'), 'x'.repeat(100_000));
    assert.deepEqual(await readdir(join(dataDir, 'volumes', v.volume_id)), ['hello.txt']);
    await rejects(driver.client.nodePublishVolume({ volume_id: v.volume_id, target_path: target, volume_capability: mountCapability(), readonly: true }), status.ALREADY_EXISTS);

    const stats = await driver.client.nodeGetVolumeStats({ volume_id: v.volume_id, volume_path: target });
    const bytes = stats.usage.find((u) => u.unit === 'BYTES')!;
    assert.equal(bytes.total, String(8 * MiB));
    assert.ok(Number(bytes.used) >= 100_000, bytes.used);
    await rejects(driver.client.nodeGetVolumeStats({ volume_id: v.volume_id, volume_path: join(dir, 'elsewhere') }), status.NOT_FOUND);
    await rejects(driver.client.deleteVolume({ volume_id: v.volume_id }), status.FAILED_PRECONDITION);

    const roTarget = join(dir, 'pods', 'p2', 'vol');
    await driver.client.nodePublishVolume({ volume_id: v.volume_id, target_path: roTarget, volume_capability: mountCapability(), readonly: true });
    assert.equal(await readFile(join(roTarget, 'hello.txt'), 'utf8').then((s) => s.length), 100_000);
    await assert.rejects(writeFile(join(roTarget, 'nope'), 'x'), /EROFS/);

    for (const t of [target, roTarget]) {
      await driver.client.nodeUnpublishVolume({ volume_id: v.volume_id, target_path: t });
      await driver.client.nodeUnpublishVolume({ volume_id: v.volume_id, target_path: t });
      await assert.rejects(stat(t), /ENOENT/);
    }
    await rejects(driver.client.nodeUnpublishVolume({ volume_id: v.volume_id }), status.INVALID_ARGUMENT);
    await driver.client.deleteVolume({ volume_id: v.volume_id });
  });

  test('a volume of another zone or another node is FAILED_PRECONDITION', async () => {
    const zonal = await volume('zone-a-vol', { accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-a' } }] } });
    await rejects(nodeD.client.nodePublishVolume({ volume_id: zonal.volume_id, target_path: join(dir, 'd', 'z'), volume_capability: mountCapability() }), status.FAILED_PRECONDITION);
    const local = await volume('b1-local', { parameters: { type: 'local' }, accessibility_requirements: { requisite: [{ segments: { 'kubernetes.io/hostname': 'node-b1' } }] } });
    await rejects(driver.client.nodePublishVolume({ volume_id: local.volume_id, target_path: join(dir, 'a', 'l'), volume_capability: mountCapability() }), status.FAILED_PRECONDITION);
    const zoneD = await volume('zone-d-vol', { accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-d' } }] } });
    const t = join(dir, 'd', 'ok');
    await nodeD.client.nodePublishVolume({ volume_id: zoneD.volume_id, target_path: t, volume_capability: mountCapability() });
    await nodeD.client.nodeUnpublishVolume({ volume_id: zoneD.volume_id, target_path: t });
  });
});

describe('Snapshots', () => {
  test('CreateSnapshot: missing fields, idempotency, name conflict, max name length', async () => {
    const v = await volume('snap-src');
    await rejects(driver.client.createSnapshot({ name: 's' }), status.INVALID_ARGUMENT);
    await rejects(driver.client.createSnapshot({ source_volume_id: v.volume_id }), status.INVALID_ARGUMENT);
    const a = await driver.client.createSnapshot({ name: 'snap-1', source_volume_id: v.volume_id });
    const b = await driver.client.createSnapshot({ name: 'snap-1', source_volume_id: v.volume_id });
    assert.equal(a.snapshot.snapshot_id, b.snapshot.snapshot_id);
    assert.equal(a.snapshot.ready_to_use, true);
    assert.equal(a.snapshot.size_bytes, String(8 * MiB));
    assert.ok(Number(a.snapshot.creation_time?.seconds) > 0);
    const other = await volume('snap-src-2');
    await rejects(driver.client.createSnapshot({ name: 'snap-1', source_volume_id: other.volume_id }), status.ALREADY_EXISTS);
    await driver.client.createSnapshot({ name: 's'.repeat(128), source_volume_id: v.volume_id });
  });

  test('ListSnapshots by id, by source volume, with pagination; DeleteSnapshot idempotent', async () => {
    const v = await volume('list-src');
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await driver.client.createSnapshot({ name: `list-${i}`, source_volume_id: v.volume_id })).snapshot.snapshot_id);
    const byId = await driver.client.listSnapshots({ snapshot_id: ids[2] });
    assert.deepEqual(byId.entries.map((e) => e.snapshot.snapshot_id), [ids[2]]);
    assert.equal((await driver.client.listSnapshots({ snapshot_id: 'snap-00000000-0000-4000-8000-000000000000' })).entries.length, 0);
    const seen: string[] = [];
    let token = '';
    do {
      const page = await driver.client.listSnapshots({ source_volume_id: v.volume_id, max_entries: 3, starting_token: token });
      seen.push(...page.entries.map((e) => e.snapshot.snapshot_id));
      token = page.next_token;
    } while (token);
    assert.deepEqual(seen, ids);
    await rejects(driver.client.listSnapshots({ starting_token: 'nope' }), status.ABORTED);
    await rejects(driver.client.deleteSnapshot({}), status.INVALID_ARGUMENT);
    await driver.client.deleteSnapshot({ snapshot_id: ids[0] });
    await driver.client.deleteSnapshot({ snapshot_id: ids[0] });
    assert.equal((await driver.client.listSnapshots({ snapshot_id: ids[0] })).entries.length, 0);
  });

  test('GetSnapshot: should fail when no snapshot id is provided', async () => {
    await rejects(driver.client.getSnapshot({}), status.INVALID_ARGUMENT);
  });

  test('GetSnapshot: should fail when an invalid snapshot id is used', async () => {
    await rejects(driver.client.getSnapshot({ snapshot_id: 'snap-00000000-0000-4000-8000-000000000000' }), status.NOT_FOUND);
    await rejects(driver.client.getSnapshot({ snapshot_id: '../../etc' }), status.NOT_FOUND);
  });

  test('GetSnapshot: should return the snapshot ListSnapshots returns for its id, and NOT_FOUND once deleted', async () => {
    const v = await volume('get-src');
    const created = (await driver.client.createSnapshot({ name: 'get-1', source_volume_id: v.volume_id })).snapshot;
    const got = await driver.client.getSnapshot({ snapshot_id: created.snapshot_id });
    const listed = await driver.client.listSnapshots({ snapshot_id: created.snapshot_id });
    assert.deepEqual(got.snapshot, listed.entries[0].snapshot);
    assert.deepEqual(got.snapshot, created);
    assert.equal(got.snapshot.source_volume_id, v.volume_id);
    assert.equal(got.snapshot.ready_to_use, true);
    await driver.client.deleteSnapshot({ snapshot_id: created.snapshot_id });
    await rejects(driver.client.getSnapshot({ snapshot_id: created.snapshot_id }), status.NOT_FOUND);
  });

  test('restore from a snapshot into another zone and onto a node, and clone a volume, with size checks', async () => {
    const src = await volume('restore-src', { accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-a' } }] } });
    const target = join(dir, 'pods', 'writer', 'vol');
    await driver.client.nodePublishVolume({ volume_id: src.volume_id, target_path: target, volume_capability: mountCapability() });
    await writeFile(join(target, 'before.txt'), 'kept');
    const snap = (await driver.client.createSnapshot({ name: 'restore-snap', source_volume_id: src.volume_id })).snapshot;
    await writeFile(join(target, 'after.txt'), 'not in the snapshot');
    await rejects(
      driver.client.createVolume({ name: 'too-small', volume_capabilities: caps, capacity_range: { required_bytes: String(MiB) }, volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } }),
      status.OUT_OF_RANGE,
    );
    const restored = (
      await driver.client.createVolume({
        name: 'restored',
        volume_capabilities: caps,
        volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
        accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-d' } }] },
      })
    ).volume;
    assert.equal(restored.capacity_bytes, String(8 * MiB));
    assert.equal(restored.content_source?.snapshot?.snapshot_id, snap.snapshot_id);
    assert.deepEqual(await readdir(join(dataDir, 'volumes', restored.volume_id)), ['before.txt']);
    const onNode = (
      await driver.client.createVolume({ name: 'restored-local', volume_capabilities: caps, parameters: { type: 'local' }, volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })
    ).volume;
    assert.deepEqual(await readdir(join(dataDir, 'volumes', onNode.volume_id)), ['before.txt']);
    const clone = (await driver.client.createVolume({ name: 'clone', volume_capabilities: caps, volume_content_source: { volume: { volume_id: src.volume_id } } })).volume;
    assert.deepEqual((await readdir(join(dataDir, 'volumes', clone.volume_id))).sort(), ['after.txt', 'before.txt']);
    await driver.client.nodeUnpublishVolume({ volume_id: src.volume_id, target_path: target });
  });

  test('a snapshot is one instant even while a writer in its own mount namespace keeps appending', async () => {
    const v = await volume('pit');
    const target = join(dir, 'pods', 'pit', 'vol');
    await driver.client.nodePublishVolume({ volume_id: v.volume_id, target_path: target, volume_capability: mountCapability() });
    // Pads B (so copying it takes a while), then appends n to A and n to B, forever: at any instant A holds
    // n or n+1 numbered lines when B holds n.
    const script = `const fs=require('fs');const a=fs.openSync(process.argv[1]+'/A','a');const b=fs.openSync(process.argv[1]+'/B','a');
      fs.writeSync(b,'#'.repeat(16<<20)+'\\n');
      for(let n=0;;n++){fs.writeSync(a,n+'\\n');fs.writeSync(b,n+'\\n');}`;
    const writer = spawn('unshare', ['-m', '--propagation', 'private', process.execPath, '-e', script, target], { stdio: 'ignore' });
    try {
      for (let i = 0; !(await stat(join(target, 'B')).then((st) => st.size > (16 << 20) + 1000, () => false)); i++) {
        assert.ok(i < 400, 'the writer never started');
        await new Promise((r) => setTimeout(r, 25));
      }
      // One at a time, then several at once: concurrent snapshots of one volume share one freeze, so none of them
      // sees the writer resumed by another that finished first.
      for (const [round, concurrent] of [1, 1, 4].entries()) {
        const snaps = await Promise.all(Array.from({ length: concurrent }, (_, i) =>
          driver.client.createSnapshot({ name: `pit-${round}-${i}`, source_volume_id: v.volume_id })));
        for (const { snapshot } of snaps) {
          const lines = async (f: string) => (await readFile(join(dataDir, 'snapshots', snapshot.snapshot_id, f), 'utf8')).split('\n').filter((l) => /^[0-9]/.test(l)).length;
          const [a, b] = [await lines('A'), await lines('B')];
          assert.ok(b > 0, 'the writer was running');
          assert.ok(a - b === 0 || a - b === 1, `A has ${a} lines, B ${b}`);
        }
      }
    } finally {
      writer.kill('SIGKILL');
      await childExited(writer);
      await driver.client.nodeUnpublishVolume({ volume_id: v.volume_id, target_path: target });
    }
  });
});

describe('Crash safety', () => {
  test('a driver killed while a snapshot holds the volume\'s writers stopped: the next driver to start resumes them', async () => {
    const crashDir = await tempDir('strata-csi-freeze-');
    const data = join(crashDir, 'data');
    const state = async (pid: number) => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]![0];
    const drivers: DriverProcess[] = [];
    const start = async (env?: Record<string, string>) => {
      const d = await startDriverProcess({ dataDir: data, socketDir: crashDir, nodeId: 'node-a1', env });
      drivers.push(d);
      return d;
    };
    const target = join(crashDir, 'pods', 'writer', 'vol');
    let writer: ReturnType<typeof spawn> | undefined;
    try {
      const setup = await start();
      const v = (await setup.client.createVolume({ name: 'frozen', volume_capabilities: caps, accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-a' } }] } })).volume;
      await setup.client.nodePublishVolume({ volume_id: v.volume_id, target_path: target, volume_capability: mountCapability() });
      await setup.stop();
      // A writer: its working directory is in the volume.
      writer = spawn('sleep', ['1000'], { cwd: target, stdio: 'ignore' });
      await new Promise((resolve, reject) => writer!.once('spawn', resolve).once('error', reject));

      const crashing = await start({ STRATA_CSI_CRASH_AT: 'point-in-time-copy:frozen' });
      await assert.rejects(crashing.client.createSnapshot({ name: 'victim', source_volume_id: v.volume_id }), (err: unknown) => err instanceof CsiError && err.code === status.UNAVAILABLE);
      assert.equal(await crashing.exited, 'SIGKILL');
      assert.equal(await state(writer.pid!), 'T', 'the writer was stopped when the driver died');
      assert.equal((await readdir(join(data, 'freezes'))).length, 1);

      const restarted = await start();
      assert.notEqual(await state(writer.pid!), 'T', 'the writer runs again');
      assert.deepEqual(await readdir(join(data, 'freezes')), []);
      const s = (await restarted.client.createSnapshot({ name: 'victim', source_volume_id: v.volume_id })).snapshot;
      assert.equal(s.ready_to_use, true);
      assert.notEqual(await state(writer.pid!), 'T', 'a completed snapshot resumes what it stopped');
      assert.deepEqual(await readdir(join(data, 'freezes')), [], 'and removes its record');
      writer.kill('SIGKILL');
      await childExited(writer); // its working directory keeps the mount busy until it has gone
      await restarted.client.nodeUnpublishVolume({ volume_id: v.volume_id, target_path: target });
    } finally {
      writer?.kill('SIGKILL');
      for (const d of drivers) await d.stop();
      spawnSync('umount', ['-l', target]); // only if a failed assertion left it published
      await rm(crashDir, { recursive: true, force: true });
    }
  });

  for (const point of ['create-volume:after-record', 'create-volume:after-data', 'create-snapshot:after-record', 'create-snapshot:after-data', 'delete-volume:after-mark']) {
    test(`a driver killed at ${point} reports nothing half-made and the retry completes`, async () => {
      const crashDir = await tempDir('strata-csi-crash-');
      const data = join(crashDir, 'data');
      const setup = await startDriverProcess({ dataDir: data, socketDir: crashDir, mode: 'controller' });
      const src = await setup.client.createVolume({ name: 'source', volume_capabilities: caps });
      await setup.stop();

      const crashing = await startDriverProcess({ dataDir: data, socketDir: crashDir, mode: 'controller', env: { STRATA_CSI_CRASH_AT: point } });
      const call = point.startsWith('create-volume')
        ? () => crashing.client.createVolume({ name: 'victim', volume_capabilities: caps })
        : point.startsWith('create-snapshot')
          ? () => crashing.client.createSnapshot({ name: 'victim', source_volume_id: src.volume.volume_id })
          : () => crashing.client.deleteVolume({ volume_id: src.volume.volume_id });
      await assert.rejects(call(), (err: unknown) => err instanceof CsiError && err.code === status.UNAVAILABLE);
      assert.equal(await crashing.exited, 'SIGKILL');
      crashing.client.close();

      const restarted = await startDriverProcess({ dataDir: data, socketDir: crashDir, mode: 'controller' });
      const c = restarted.client;
      if (point.startsWith('create-volume')) {
        assert.deepEqual((await c.listVolumes()).entries.map((e) => e.volume.volume_id), [src.volume.volume_id], 'the half-made volume is not listed');
        const v = (await c.createVolume({ name: 'victim', volume_capabilities: caps })).volume;
        assert.equal((await c.listVolumes()).entries.length, 2);
        assert.deepEqual(await readdir(join(data, 'volumes', v.volume_id)), []);
      } else if (point.startsWith('create-snapshot')) {
        assert.equal((await c.listSnapshots()).entries.length, 0);
        const s = (await c.createSnapshot({ name: 'victim', source_volume_id: src.volume.volume_id })).snapshot;
        assert.deepEqual((await c.listSnapshots()).entries.map((e) => e.snapshot.snapshot_id), [s.snapshot_id]);
        assert.deepEqual(await readdir(join(data, 'snapshots')), [s.snapshot_id]);
      } else {
        await c.deleteVolume({ volume_id: src.volume.volume_id });
        assert.equal((await c.listVolumes()).entries.length, 0);
        assert.deepEqual(await readdir(join(data, 'volumes')), []);
      }
      assert.deepEqual(await readdir(join(data, 'scratch')), [], 'no scratch left behind');
      await restarted.stop();
      await rm(crashDir, { recursive: true, force: true });
    });
  }
});
