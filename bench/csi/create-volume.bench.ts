// bench/csi: what a CreateVolume and a GetCapacity cost the driver and its caller, over real gRPC on a unix socket,
// against a `strata csi-driver` process whose cluster has 500 nodes in 3 zones. CreateVolume is measured with the
// topology requirement a provisioner sends with --strict-topology (the selected node only) and without it, the
// default (every node's topology as requisite, and again as preferred starting at the selected node: 1,000 Topology
// messages a request), which is what the scheduler bench's scenario (3) sends. GetCapacity is what the provisioner's
// capacity controller calls once per node segment and class on every pass.
// Run: node bench/csi/create-volume.bench.ts [volumes]
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectCsi } from '../../src/csi/grpc.ts';
import type { Topology } from '../../src/csi/types.ts';
import { mountCapability, tempDir } from '../../src/driver/testing.ts';
import { fmt, inParallel, machineLine, processCpuMs } from '../lib/machine.ts';

const volumes = Number(process.argv[2] ?? 2000);
const nodeCount = 500;
const zones = ['zone-a', 'zone-b', 'zone-c'];

const dir = await tempDir('strata-csi-bench-');
const clusterFile = join(dir, 'cluster.yaml');
writeFileSync(clusterFile, [
  'apiVersion: strata.io/v1alpha1', 'kind: Cluster', 'metadata: {name: csi-bench}', 'spec:', '  region: region-1', '  zones:',
  ...zones.map((z) => `    - {name: ${z}, zonalPool: 100Ti}`), '  nodes:',
  ...Array.from({ length: nodeCount }, (_, i) => `    - {name: node-${i}, zone: ${zones[i % zones.length]}}`), '',
].join('\n'));
const socket = join(dir, 'csi.sock');
const driver = spawn(process.execPath, [
  new URL('../../src/driver/main.ts', import.meta.url).pathname, '--endpoint', `unix://${socket}`, '--mode', 'controller',
  '--data-dir', join(dir, 'data'), '--cluster', clusterFile, '--log-level', 'warn',
], { stdio: ['ignore', 'inherit', 'inherit'] });
const driverExited = new Promise((r) => driver.once('exit', r));
for (let i = 0; !existsSync(socket); i++) {
  if (i > 400) throw new Error('the driver did not start');
  await new Promise((r) => setTimeout(r, 25));
}
const csi = connectCsi(`unix://${socket}`);

// The provisioner hands over the same Topology objects in every request; so does this bench.
const nodes: Topology[] = Array.from({ length: nodeCount }, (_, i) => ({
  segments: { 'topology.kubernetes.io/region': 'region-1', 'topology.kubernetes.io/zone': zones[i % zones.length]!, 'kubernetes.io/hostname': `node-${i}` },
}));
const requirements = {
  strict: (i: number) => ({ requisite: [nodes[i % nodeCount]!], preferred: [nodes[i % nodeCount]!] }),
  default: (i: number) => ({ requisite: nodes, preferred: [...nodes.slice(i % nodeCount), ...nodes.slice(0, i % nodeCount)] }),
};

/** CPU of the driver and of this process (the caller) per call, and calls/s, for n calls 16 at a time. */
async function measure(n: number, call: (i: number) => Promise<unknown>): Promise<string> {
  const driverBefore = processCpuMs(driver.pid!);
  const callerBefore = process.cpuUsage();
  const started = performance.now();
  await inParallel(n, 16, call);
  const seconds = (performance.now() - started) / 1000;
  const caller = process.cpuUsage(callerBefore);
  return `${fmt(n / seconds, 0)}/s; CPU ms/call: driver ${fmt((processCpuMs(driver.pid!) - driverBefore) / n, 2)}, caller ${fmt((caller.user + caller.system) / 1000 / n, 2)}`;
}

try {
  console.log(machineLine());
  console.log(`csi-driver process, ${nodeCount} nodes in ${zones.length} zones; ${volumes} CreateVolume calls per topology form, 16 at a time`);
  // Warm-up: module loading, JIT, the SQLite statements.
  await measure(200, (i) => csi.createVolume({ name: `warm-${i}`, volume_capabilities: [mountCapability()], capacity_range: { required_bytes: '1024' }, accessibility_requirements: requirements.default(i) }));
  for (const form of ['strict', 'default'] as const) {
    const line = await measure(volumes, (i) => csi.createVolume({
      name: `${form}-${i}`, volume_capabilities: [mountCapability()], capacity_range: { required_bytes: '1024' }, accessibility_requirements: requirements[form](i),
    }));
    console.log(`CreateVolume, ${form === 'strict' ? 'strict topology (1 + 1 topologies)' : `default topology (${nodeCount} + ${nodeCount} topologies)`}: ${line}`);
  }
  const capacityLine = await measure(nodeCount, (i) => csi.getCapacity({
    parameters: { type: 'zonal' }, volume_capabilities: [mountCapability()], accessible_topology: nodes[i]!,
  }));
  console.log(`GetCapacity, one per node segment (a capacity pass): ${capacityLine}`);
} finally {
  csi.close();
  driver.kill('SIGTERM');
  await driverExited;
  await rm(dir, { recursive: true, force: true });
}
