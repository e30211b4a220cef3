// The PV binder's wiring: its cache (newest version wins, matchable volumes, in-flight volume writes) as unit tests;
// then the controllers against the embedded API server — a burst of claims bound by many claim workers never shares a
// volume, and pvc-protection keeps a deleted claim until the pod using it is gone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../../api/types.ts';
import { startApiServer } from '../../apiserver/server.ts';
import type { RunningApiServer } from '../../apiserver/server.ts';
import { SharedInformerFactory } from '../../client/informer.ts';
import type { Logger } from '../../client/logger.ts';
import { Resources } from '../../client/resources.ts';
import { KubeClient } from '../../client/rest.ts';
import { BinderCache, PersistentVolumeController, ProtectionController } from './controller.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function volume(name: string, resourceVersion: string, claimRef?: { name: string; uid?: string }): PersistentVolume {
  return {
    metadata: { name, resourceVersion },
    spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], ...(claimRef ? { claimRef: { namespace: 'default', ...claimRef } } : {}) },
  };
}

function claim(name: string, resourceVersion: string, volumeName?: string): PersistentVolumeClaim {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...(volumeName ? { volumeName } : {}) },
  };
}

const names = (pvs: PersistentVolume[]) => pvs.map((pv) => pv.metadata.name).sort();

describe('BinderCache', () => {
  it('keeps the newest resourceVersion and refuses older ones (storeObjectUpdate)', () => {
    const cache = new BinderCache();
    assert.equal(cache.storeVolume(volume('pv1', '10')), true);
    assert.equal(cache.storeVolume(volume('pv1', '9')), false);
    assert.equal(cache.getVolume('pv1')?.metadata.resourceVersion, '10');
    assert.equal(cache.storeVolume(volume('pv1', '10')), true, 'the same version passes (periodic sync)');
    assert.equal(cache.storeClaim(claim('c1', '5')), true);
    assert.equal(cache.storeClaim(claim('c1', '4')), false);
  });

  it('offers for matching every volume except those whose claim names them back', () => {
    const cache = new BinderCache();
    cache.storeVolume(volume('free', '1'));
    cache.storeVolume(volume('prebound', '2', { name: 'waiting' }));
    cache.storeVolume(volume('bound', '3', { name: 'done', uid: 'uid-done' }));
    cache.storeClaim(claim('waiting', '4'));
    cache.storeClaim(claim('done', '5', 'bound'));
    assert.deepEqual(names(cache.matchableVolumes()), ['free', 'prebound']);
    // The claim lost its volume name: the volume is matchable again.
    cache.storeClaim(claim('done', '6'));
    assert.deepEqual(names(cache.matchableVolumes()), ['bound', 'free', 'prebound']);
    cache.storeClaim(claim('done', '7', 'bound'));
    cache.deleteClaim('default/done');
    assert.deepEqual(names(cache.matchableVolumes()), ['bound', 'free', 'prebound']);
    cache.deleteVolume('bound');
    assert.deepEqual(names(cache.matchableVolumes()), ['free', 'prebound']);
  });

  it('shows a volume write as made while it is in flight, and forgets it when it fails', async () => {
    const cache = new BinderCache();
    cache.storeVolume(volume('pv1', '1'));
    const claimed = volume('pv1', '1', { name: 'c1', uid: 'uid-c1' });
    let fail!: (err: Error) => void;
    const write = cache.writeVolume(claimed, () => new Promise((_resolve, reject) => (fail = reject)));
    assert.equal(cache.getVolume('pv1'), claimed);
    assert.equal(cache.matchableVolumes()[0], claimed);
    fail(new Error('conflict'));
    await assert.rejects(write, /conflict/);
    assert.equal(cache.getVolume('pv1')?.spec.claimRef, undefined);
    const stored = await cache.writeVolume(claimed, async (pv) => ({ ...pv, metadata: { ...pv.metadata, resourceVersion: '2' } }));
    assert.equal(cache.getVolume('pv1'), stored);
  });
});

describe('PV binder and protection controllers against the embedded API server', () => {
  let dir: string;
  let server: RunningApiServer;
  let client: KubeClient;
  const abort = new AbortController();
  let running: Promise<unknown>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-pv-binder-it-'));
    server = await startApiServer({ dataDir: dir, port: 0, storage: 'memory' });
    client = KubeClient.fromKubeconfig(server.kubeconfigPath);
    const informers = new SharedInformerFactory(client, { logger: silent });
    // No resync during the test: every binding must come from the event-driven path.
    const binder = new PersistentVolumeController({ client, informers, claimWorkers: 16, syncPeriodMs: 3_600_000, logger: silent });
    const protection = new ProtectionController({ client, informers, logger: silent });
    informers.start();
    running = Promise.all([binder.run(abort.signal), protection.run(abort.signal)]).finally(() => informers.shutdown());
  });

  after(async () => {
    abort.abort();
    await running;
    client?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async <T>(check: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('16 claim workers bind a burst of 50 claims to 40 volumes: each volume to one claim, 10 claims left Pending', async () => {
    const pvs = client.resource(Resources.pv);
    const pvcs = client.resource(Resources.pvc);
    await Promise.all(Array.from({ length: 40 }, (_, i) => pvs.create({
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `burst-${i}` },
      spec: { storageClassName: 'burst', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/burst-${i}` } },
    })));
    await until(async () => ((await pvs.list()).items.filter((pv) => pv.status?.phase === 'Available').length === 40 ? true : undefined), 'volumes Available');
    await Promise.all(Array.from({ length: 50 }, (_, i) => pvcs.create({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `burst-${i}`, namespace: 'default' },
      spec: { storageClassName: 'burst', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    })));
    const bound = await until(async () => {
      const items = (await pvcs.list({ namespace: 'default' })).items.filter((c) => c.metadata.name?.startsWith('burst-') && c.status?.phase === 'Bound');
      return items.length === 40 ? items : undefined;
    }, '40 claims Bound');
    await new Promise((r) => setTimeout(r, 300)); // room for a wrong 41st binding
    const claims = (await pvcs.list({ namespace: 'default' })).items.filter((c) => c.metadata.name?.startsWith('burst-'));
    assert.equal(claims.filter((c) => c.status?.phase === 'Bound').length, 40);
    assert.equal(claims.filter((c) => c.status?.phase === 'Pending' && !c.spec.volumeName).length, 10);
    assert.equal(new Set(bound.map((c) => c.spec.volumeName)).size, 40, 'no volume shared');
    const volumes = new Map((await pvs.list()).items.map((pv) => [pv.metadata.name, pv]));
    for (const c of bound) {
      const pv = volumes.get(c.spec.volumeName)!;
      assert.equal(pv.spec.claimRef?.uid, c.metadata.uid, `${pv.metadata.name} points back at ${c.metadata.name}`);
      assert.equal(pv.status?.phase, 'Bound');
    }
  });

  it('pvc-protection keeps a deleted claim while a scheduled pod uses it, and lets it go when the pod is deleted', async () => {
    const pvcs = client.resource(Resources.pvc);
    const pods = client.resource(Resources.pods);
    await pvcs.create({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'in-use', namespace: 'default' },
      spec: { storageClassName: 'none', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    await pods.create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'user', namespace: 'default' },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'in-use' } }] },
    } as Pod);
    const claimNow = () => pvcs.get('in-use', 'default').catch(() => undefined);
    assert.ok((await claimNow())?.metadata.finalizers?.includes('kubernetes.io/pvc-protection'));
    await pvcs.delete('in-use', 'default');
    await new Promise((r) => setTimeout(r, 500));
    const kept = await claimNow();
    assert.ok(kept?.metadata.deletionTimestamp, 'still there, being deleted');
    await pods.delete('user', 'default', { gracePeriodSeconds: 0 });
    await until(async () => ((await claimNow()) === undefined ? true : undefined), 'claim removed');
  });
});
