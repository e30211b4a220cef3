// The PV binder's wiring: its cache (newest version wins, the matching index, in-flight volume writes) as unit tests;
// then the controllers against the embedded API server — a burst of claims bound by many claim workers never shares a
// volume, and pvc-protection keeps a deleted claim until the pod using it is gone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeAccessMode, PersistentVolumeClaim, Pod } from '../../api/types.ts';
import { startApiServer } from '../../apiserver/server.ts';
import type { RunningApiServer } from '../../apiserver/server.ts';
import { SharedInformerFactory } from '../../client/informer.ts';
import type { Logger } from '../../client/logger.ts';
import { Resources } from '../../client/resources.ts';
import { KubeClient } from '../../client/rest.ts';
import { findBestMatchForClaim } from '../../api/volume-matching.ts';
import { BinderCache, PersistentVolumeController, ProtectionController } from './controller.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function volume(name: string, resourceVersion: string, claimRef?: { name: string; uid?: string }): PersistentVolume {
  return {
    metadata: { name, resourceVersion },
    spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], ...(claimRef ? { claimRef: { namespace: 'default', ...claimRef } } : {}) },
    status: { phase: 'Available' },
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

  it('offers a claim the volumes whose claimRef names it and, per set of access modes, the smallest unclaimed fit of its class', () => {
    const cache = new BinderCache();
    const sized = (pv: PersistentVolume, storage: string, storageClassName = 'gold', accessModes: PersistentVolumeAccessMode[] = ['ReadWriteOnce']) =>
      ({ ...pv, spec: { ...pv.spec, capacity: { storage }, storageClassName, accessModes } }) as PersistentVolume;
    cache.storeVolume(sized(volume('small', '1'), '1Gi'));
    cache.storeVolume(sized(volume('big', '2'), '5Gi'));
    cache.storeVolume(sized(volume('medium', '3'), '2Gi'));
    cache.storeVolume(sized(volume('medium-rwx', '4'), '2Gi', 'gold', ['ReadWriteOnce', 'ReadWriteMany']));
    cache.storeVolume(sized(volume('other-class', '5'), '2Gi', 'silver'));
    cache.storeVolume(sized(volume('prebound', '6', { name: 'waiting' }), '1Gi', 'silver'));
    cache.storeVolume(sized(volume('bound', '7', { name: 'done', uid: 'uid-done' }), '2Gi'));
    const wants = (name: string, storage: string) =>
      ({ ...claim(name, '1'), spec: { ...claim(name, '1').spec, storageClassName: 'gold', resources: { requests: { storage } } } }) as PersistentVolumeClaim;
    assert.deepEqual(names(cache.volumesForClaim(wants('waiting', '2Gi'), false)), ['medium', 'medium-rwx', 'prebound']);
    assert.deepEqual(names(cache.volumesForClaim(wants('waiting', '2Gi'), true)), ['prebound'], 'delayed binding: only what names the claim');
    assert.deepEqual(names(cache.volumesForClaim(wants('done', '3Gi'), false)), ['big', 'bound']);
    // A volume that does not pass the filters is not its group's answer: the next size up is.
    cache.storeVolume({ ...sized(volume('medium', '8'), '2Gi'), metadata: { name: 'medium', resourceVersion: '8', deletionTimestamp: '2024-01-01T00:00:00Z' } });
    assert.deepEqual(names(cache.volumesForClaim(wants('other', '2Gi'), false)), ['big', 'medium-rwx']);
    cache.deleteVolume('big');
    cache.deleteVolume('medium-rwx');
    assert.deepEqual(names(cache.volumesForClaim(wants('other', '2Gi'), false)), []);
    // The claim went away and the volume was unbound: it is unclaimed again.
    cache.storeVolume(sized(volume('bound', '9'), '2Gi'));
    assert.deepEqual(names(cache.volumesForClaim(wants('other', '2Gi'), false)), ['bound']);
  });

  it('findBestMatchForClaim picks from volumesForClaim what it picks from all volumes (random clusters)', () => {
    let seed = 42;
    // A 32-bit LCG (Numerical Recipes): repeatable clusters.
    const random = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return (seed >>> 8) % n;
    };
    const pick = <T>(values: T[]) => values[random(values.length)]!;
    const modeSets: PersistentVolumeAccessMode[][] = [['ReadWriteOnce'], ['ReadWriteOnce', 'ReadWriteMany'], ['ReadOnlyMany'], ['ReadWriteMany', 'ReadOnlyMany'], ['ReadWriteOncePod']];
    // What decides a match up to ties: the volume's size, access modes and whether it was pre-bound to the claim.
    const signature = (pv: PersistentVolume | undefined, c: PersistentVolumeClaim) =>
      pv && `${pv.spec.capacity?.storage} ${pv.spec.accessModes} ${pv.spec.claimRef?.name === c.metadata.name}`;
    let matches = 0;
    for (let round = 0; round < 40; round++) {
      const cache = new BinderCache();
      const all: PersistentVolume[] = [];
      for (let i = 0; i < 60; i++) {
        const ref = random(4) === 0 ? { name: `c${random(10)}`, ...(random(2) ? { uid: `uid-c${random(10)}` } : {}) } : undefined;
        const pv: PersistentVolume = {
          metadata: { name: `pv${i}`, resourceVersion: '1', labels: { tier: pick(['a', 'b']) }, ...(random(10) === 0 ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
          spec: {
            capacity: { storage: `${1 + random(4)}Gi` }, accessModes: pick(modeSets), storageClassName: pick(['gold', 'silver']),
            ...(random(8) === 0 ? { volumeMode: 'Block' } : {}), ...(ref ? { claimRef: { namespace: 'default', ...ref } } : {}),
          },
          status: { phase: pick(['Available', 'Available', 'Available', 'Pending', 'Released']) },
        };
        all.push(pv);
        cache.storeVolume(pv);
      }
      for (let i = 0; i < 10; i++) {
        const c = claim(`c${i}`, '1');
        c.spec.storageClassName = pick(['gold', 'silver']);
        c.spec.accessModes = pick(modeSets);
        c.spec.resources = { requests: { storage: `${1 + random(4)}Gi` } };
        if (random(4) === 0) c.spec.selector = { matchLabels: { tier: 'a' } };
        for (const delayBinding of [false, true]) {
          const expected = findBestMatchForClaim(c, all, delayBinding);
          assert.equal(signature(findBestMatchForClaim(c, cache.volumesForClaim(c, delayBinding), delayBinding), c), signature(expected, c));
          if (expected) matches++;
        }
      }
    }
    assert.ok(matches > 100, `the random clusters exercise matching (${matches} matches)`);
  });

  it('shows a volume write as made while it is in flight, and forgets it when it fails', async () => {
    const cache = new BinderCache();
    cache.storeVolume(volume('pv1', '1'));
    const claimed = volume('pv1', '1', { name: 'c1', uid: 'uid-c1' });
    let fail!: (err: Error) => void;
    const write = cache.writeVolume(claimed, () => new Promise((_resolve, reject) => (fail = reject)));
    assert.equal(cache.getVolume('pv1'), claimed);
    assert.deepEqual(cache.volumesForClaim(claim('c1', '1'), false), [claimed]);
    assert.deepEqual(cache.volumesForClaim(claim('c2', '1'), false), [], 'no other claim can take it meanwhile');
    fail(new Error('conflict'));
    await assert.rejects(write, /conflict/);
    assert.equal(cache.getVolume('pv1')?.spec.claimRef, undefined);
    assert.deepEqual(names(cache.volumesForClaim(claim('c2', '1'), false)), ['pv1']);
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
