// csi-sanity's Identity and Controller groups, plus topology and path safety, against the real driver process.
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CsiError } from '../csi/errors.ts';
import { type DriverProcess, mountCapability, startDriverProcess, tempDir } from './testing.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const caps = [mountCapability()];
const zoneOf = (v: { accessible_topology: Array<{ segments: Record<string, string> }> }) => v.accessible_topology[0].segments['topology.kubernetes.io/zone'];

async function rejects(p: Promise<unknown>, code: status): Promise<CsiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CsiError, String(err));
    assert.equal(status[err.code], status[code], err.details);
    return err;
  }
  assert.fail(`expected ${status[code]}`);
}

let dir: string;
let driver: DriverProcess;
before(async () => {
  dir = await tempDir('strata-csi-controller-');
  driver = await startDriverProcess({ dataDir: join(dir, 'data'), socketDir: dir, nodeId: 'node-a1' });
});
after(async () => {
  await driver.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Identity Service', () => {
  test('GetPluginInfo returns the name and a vendor version', async () => {
    const info = await driver.client.getPluginInfo();
    assert.equal(info.name, 'csi.strata.io');
    assert.ok(info.vendor_version.length > 0);
  });
  test('GetPluginCapabilities lists CONTROLLER_SERVICE and VOLUME_ACCESSIBILITY_CONSTRAINTS', async () => {
    const types = (await driver.client.getPluginCapabilities()).capabilities.map((c) => ('service' in c ? c.service.type : c.volume_expansion.type));
    assert.ok(types.includes('CONTROLLER_SERVICE') && types.includes('VOLUME_ACCESSIBILITY_CONSTRAINTS'));
  });
  test('Probe reports ready', async () => {
    assert.equal((await driver.client.probe()).ready?.value, true);
  });
});

describe('Controller Service', () => {
  test('ControllerGetCapabilities', async () => {
    const types = (await driver.client.controllerGetCapabilities()).capabilities.map((c) => c.rpc.type);
    for (const t of ['CREATE_DELETE_VOLUME', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS', 'GET_SNAPSHOT', 'CLONE_VOLUME', 'LIST_VOLUMES', 'GET_CAPACITY', 'EXPAND_VOLUME', 'GET_VOLUME']) {
      assert.ok(types.includes(t as never), t);
    }
  });

  test('CreateVolume: should fail when no name is provided', async () => {
    await rejects(driver.client.createVolume({ volume_capabilities: caps }), status.INVALID_ARGUMENT);
  });
  test('CreateVolume: should fail when no volume capabilities are provided', async () => {
    await rejects(driver.client.createVolume({ name: 'no-caps' }), status.INVALID_ARGUMENT);
  });
  test('CreateVolume: should fail for block access and unknown parameters', async () => {
    await rejects(driver.client.createVolume({ name: 'blk', volume_capabilities: [{ block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }), status.INVALID_ARGUMENT);
    await rejects(driver.client.createVolume({ name: 'param', volume_capabilities: caps, parameters: { color: 'red' } }), status.INVALID_ARGUMENT);
  });

  test('CreateVolume: should return appropriate values (no optional values added) and be idempotent', async () => {
    const first = await driver.client.createVolume({ name: 'idem', volume_capabilities: caps, capacity_range: { required_bytes: String(10 * MiB) } });
    const again = await driver.client.createVolume({ name: 'idem', volume_capabilities: caps, capacity_range: { required_bytes: String(10 * MiB) } });
    assert.equal(again.volume.volume_id, first.volume.volume_id);
    assert.equal(first.volume.capacity_bytes, String(10 * MiB));
    const onDisk = await readdir(join(dir, 'data', 'volumes'));
    assert.equal(onDisk.filter((d) => d === first.volume.volume_id).length, 1);
  });

  test('CreateVolume: should fail when requesting to create a volume with already existing name and different capacity', async () => {
    await driver.client.createVolume({ name: 'conflict', volume_capabilities: caps, capacity_range: { required_bytes: String(MiB) } });
    await rejects(
      driver.client.createVolume({ name: 'conflict', volume_capabilities: caps, capacity_range: { required_bytes: String(2 * MiB), limit_bytes: String(2 * MiB) } }),
      status.ALREADY_EXISTS,
    );
    await rejects(driver.client.createVolume({ name: 'conflict', volume_capabilities: caps, capacity_range: { required_bytes: String(MiB) }, parameters: { type: 'local' } }), status.ALREADY_EXISTS);
  });

  test('CreateVolume: should not fail when creating volume with maximum-length name, and fail past it', async () => {
    const name = 'a'.repeat(128);
    const v = await driver.client.createVolume({ name, volume_capabilities: caps, capacity_range: { required_bytes: String(MiB) } });
    assert.match(v.volume.volume_id, /^vol-/);
    await rejects(driver.client.createVolume({ name: name + 'a', volume_capabilities: caps }), status.INVALID_ARGUMENT);
  });

  test('CreateVolume: larger than any pool is OUT_OF_RANGE, larger than the free space is RESOURCE_EXHAUSTED', async () => {
    await rejects(driver.client.createVolume({ name: 'huge', volume_capabilities: caps, capacity_range: { required_bytes: String(11 * GiB) } }), status.OUT_OF_RANGE);
    const full = { name: 'zone-b-full', volume_capabilities: caps, capacity_range: { required_bytes: String(2 * GiB) } };
    const req = { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-b' } }] };
    await driver.client.createVolume({ ...full, accessibility_requirements: req });
    await rejects(driver.client.createVolume({ name: 'zone-b-more', volume_capabilities: caps, capacity_range: { required_bytes: String(MiB) }, accessibility_requirements: req }), status.RESOURCE_EXHAUSTED);
    const cap = await driver.client.getCapacity({ accessible_topology: { segments: { 'topology.kubernetes.io/zone': 'zone-b' } } });
    assert.equal(cap.available_capacity, '0');
  });

  test('CreateVolume: should fail when the volume source snapshot or volume is not found', async () => {
    await rejects(driver.client.createVolume({ name: 'nosnap', volume_capabilities: caps, volume_content_source: { snapshot: { snapshot_id: 'snap-00000000-0000-4000-8000-000000000000' } } }), status.NOT_FOUND);
    await rejects(driver.client.createVolume({ name: 'novol', volume_capabilities: caps, volume_content_source: { volume: { volume_id: 'vol-00000000-0000-4000-8000-000000000000' } } }), status.NOT_FOUND);
  });

  test('DeleteVolume: should fail when no volume id is provided; succeeds for unknown and repeated ids', async () => {
    await rejects(driver.client.deleteVolume({}), status.INVALID_ARGUMENT);
    await driver.client.deleteVolume({ volume_id: 'reallyfakevolumeid' });
    const v = await driver.client.createVolume({ name: 'del', volume_capabilities: caps });
    await driver.client.deleteVolume({ volume_id: v.volume.volume_id });
    await driver.client.deleteVolume({ volume_id: v.volume.volume_id });
    await rejects(driver.client.controllerGetVolume({ volume_id: v.volume.volume_id }), status.NOT_FOUND);
    assert.ok(!(await readdir(join(dir, 'data', 'volumes'))).includes(v.volume.volume_id));
  });

  test('ValidateVolumeCapabilities', async () => {
    await rejects(driver.client.validateVolumeCapabilities({ volume_capabilities: caps }), status.INVALID_ARGUMENT);
    const v = await driver.client.createVolume({ name: 'validate', volume_capabilities: caps, parameters: { type: 'local' }, accessibility_requirements: { requisite: [{ segments: { 'kubernetes.io/hostname': 'node-a1' } }] } });
    await rejects(driver.client.validateVolumeCapabilities({ volume_id: v.volume.volume_id }), status.INVALID_ARGUMENT);
    await rejects(driver.client.validateVolumeCapabilities({ volume_id: 'vol-00000000-0000-4000-8000-000000000000', volume_capabilities: caps }), status.NOT_FOUND);
    const ok = await driver.client.validateVolumeCapabilities({ volume_id: v.volume.volume_id, volume_capabilities: caps });
    assert.ok(ok.confirmed);
    const multi = await driver.client.validateVolumeCapabilities({ volume_id: v.volume.volume_id, volume_capabilities: [mountCapability('MULTI_NODE_MULTI_WRITER')] });
    assert.equal(multi.confirmed, null);
    assert.match(multi.message, /local/);
  });

  test('ListVolumes: pagination with max_entries and next_token, ABORTED on a bad token', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await driver.client.createVolume({ name: `page-${i}`, volume_capabilities: caps })).volume.volume_id);
    const seen: string[] = [];
    let token = '';
    do {
      const page = await driver.client.listVolumes({ max_entries: 2, starting_token: token });
      assert.ok(page.entries.length <= 2);
      seen.push(...page.entries.map((e) => e.volume.volume_id));
      token = page.next_token;
    } while (token);
    for (const id of ids) assert.ok(seen.includes(id));
    assert.equal(new Set(seen).size, seen.length);
    await rejects(driver.client.listVolumes({ starting_token: 'abcdefg' }), status.ABORTED);
    await rejects(driver.client.listVolumes({ max_entries: -1 }), status.INVALID_ARGUMENT);
  });

  test('ControllerExpandVolume grows within the pool and refuses past it', async () => {
    await rejects(driver.client.controllerExpandVolume({ capacity_range: { required_bytes: '1' } }), status.INVALID_ARGUMENT);
    const v = await driver.client.createVolume({ name: 'grow', volume_capabilities: caps, capacity_range: { required_bytes: String(MiB) } });
    await rejects(driver.client.controllerExpandVolume({ volume_id: v.volume.volume_id }), status.INVALID_ARGUMENT);
    const grown = await driver.client.controllerExpandVolume({ volume_id: v.volume.volume_id, capacity_range: { required_bytes: String(2 * MiB) } });
    assert.equal(grown.capacity_bytes, String(2 * MiB));
    assert.equal((await driver.client.controllerGetVolume({ volume_id: v.volume.volume_id })).volume.capacity_bytes, String(2 * MiB));
    await rejects(driver.client.controllerExpandVolume({ volume_id: v.volume.volume_id, capacity_range: { required_bytes: String(20 * GiB) } }), status.OUT_OF_RANGE);
    await rejects(driver.client.controllerExpandVolume({ volume_id: 'vol-00000000-0000-4000-8000-000000000000', capacity_range: { required_bytes: '5' } }), status.NOT_FOUND);
  });

  test('GetCapacity reports the free space of the matching pools', async () => {
    const local = await driver.client.getCapacity({ parameters: { type: 'local' }, accessible_topology: { segments: { 'kubernetes.io/hostname': 'node-b1' } } });
    assert.equal(local.available_capacity, String(5 * GiB));
    const none = await driver.client.getCapacity({ parameters: { type: 'local' }, accessible_topology: { segments: { 'kubernetes.io/hostname': 'node-d1' } } });
    assert.equal(none.available_capacity, '0');
    await rejects(driver.client.getCapacity({ parameters: { type: 'tape' } }), status.INVALID_ARGUMENT);
  });
});

describe('Topology', () => {
  const zone = (z: string) => ({ segments: { 'topology.kubernetes.io/region': 'region-1', 'topology.kubernetes.io/zone': z } });

  test('requisite is honoured and preferred is tried in order', async () => {
    const a = await driver.client.createVolume({ name: 'topo-req', volume_capabilities: caps, accessibility_requirements: { requisite: [zone('zone-d')] } });
    assert.equal(zoneOf(a.volume), 'zone-d');
    const b = await driver.client.createVolume({
      name: 'topo-pref',
      volume_capabilities: caps,
      accessibility_requirements: { requisite: [zone('zone-a'), zone('zone-d')], preferred: [zone('zone-d'), zone('zone-a')] },
    });
    assert.equal(zoneOf(b.volume), 'zone-d');
    const c = await driver.client.createVolume({
      name: 'topo-pref-full',
      volume_capabilities: caps,
      accessibility_requirements: { requisite: [zone('zone-b'), zone('zone-a')], preferred: [zone('zone-b'), zone('zone-a')] },
    });
    assert.equal(zoneOf(c.volume), 'zone-a', 'zone-b is full, so the next preferred zone');
  });

  test('legacy failure-domain keys are aliases', async () => {
    const v = await driver.client.createVolume({
      name: 'topo-legacy',
      volume_capabilities: caps,
      accessibility_requirements: { requisite: [{ segments: { 'failure-domain.beta.kubernetes.io/region': 'region-1', 'failure-domain.beta.kubernetes.io/zone': 'zone-d' } }] },
    });
    assert.equal(zoneOf(v.volume), 'zone-d');
  });

  test('local volumes land on the requested node and report its hostname', async () => {
    const v = await driver.client.createVolume({
      name: 'topo-local',
      volume_capabilities: caps,
      parameters: { type: 'local' },
      accessibility_requirements: { requisite: [{ segments: { 'kubernetes.io/hostname': 'node-b1', 'topology.kubernetes.io/zone': 'zone-b' } }] },
    });
    assert.deepEqual(v.volume.accessible_topology[0].segments, {
      'topology.kubernetes.io/region': 'region-1',
      'topology.kubernetes.io/zone': 'zone-b',
      'kubernetes.io/hostname': 'node-b1',
    });
  });

  test('unsatisfiable topology is RESOURCE_EXHAUSTED', async () => {
    await rejects(driver.client.createVolume({ name: 'topo-none', volume_capabilities: caps, accessibility_requirements: { requisite: [zone('zone-z')] } }), status.RESOURCE_EXHAUSTED);
    await rejects(
      driver.client.createVolume({ name: 'topo-nodisk', volume_capabilities: caps, parameters: { type: 'local' }, accessibility_requirements: { requisite: [{ segments: { 'kubernetes.io/hostname': 'node-d1' } }] } }),
      status.RESOURCE_EXHAUSTED,
    );
  });
});

describe('Path safety', () => {
  const hostile = ['../../etc', '/etc/passwd', 'vol-../../etc', 'a\0b', 'x'.repeat(5000), 'vol-00000000-0000-4000-8000-000000000000/../../x'];
  test('hostile IDs are never found and never touch the file system outside the data dir', async () => {
    for (const id of hostile) {
      await rejects(driver.client.controllerGetVolume({ volume_id: id }), status.NOT_FOUND);
      await driver.client.deleteVolume({ volume_id: id });
      await driver.client.deleteSnapshot({ snapshot_id: id });
      await rejects(driver.client.createSnapshot({ name: 'evil', source_volume_id: id }), status.NOT_FOUND);
      await rejects(driver.client.nodePublishVolume({ volume_id: id, target_path: join(dir, 'evil'), volume_capability: mountCapability() }), status.NOT_FOUND);
    }
  });
  test('hostile names are data, not paths', async () => {
    const v = await driver.client.createVolume({ name: '../../etc/evil', volume_capabilities: caps });
    assert.match(v.volume.volume_id, /^vol-[0-9a-f-]{36}$/);
    await rejects(driver.client.createVolume({ name: 'nul\u0000name', volume_capabilities: caps }), status.INVALID_ARGUMENT);
    await rejects(driver.client.createVolume({ name: 'x'.repeat(5000), volume_capabilities: caps }), status.INVALID_ARGUMENT);
  });
});
