import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterFileError, defaultClusterSpec, parseClusterFile } from './cluster.ts';

const lectureLab = `
apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: lecture-lab}
spec:
  region: cn-hangzhou
  zones:
    - {name: cn-hangzhou-b, zonalPool: 500Gi}
  nodes:
    - name: master
      zone: cn-hangzhou-b
      taints: [{key: node-role.kubernetes.io/master, effect: NoSchedule}]
    - {name: node1, zone: cn-hangzhou-b, capacity: {cpu: "4", memory: 8Gi, pods: "110"}, localPool: 100Gi, labels: {rack: rack1}}
`;

test('parses the lecture cluster and fills defaults', () => {
  const spec = parseClusterFile(lectureLab);
  assert.equal(spec.name, 'lecture-lab');
  assert.equal(spec.region, 'cn-hangzhou');
  assert.deepEqual(spec.zones, [{ name: 'cn-hangzhou-b', zonalPool: '500Gi', zonalPoolBytes: 500n * 1024n ** 3n }]);
  const [master, node1] = spec.nodes;
  assert.deepEqual(master, {
    name: 'master',
    zone: 'cn-hangzhou-b',
    capacity: { cpu: '4', memory: '8Gi', pods: '110' },
    localPool: '0',
    localPoolBytes: 0n,
    maxVolumesPerNode: 128,
    labels: {},
    taints: [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }],
  });
  assert.equal(node1.localPoolBytes, 100n * 1024n ** 3n);
  assert.deepEqual(node1.labels, { rack: 'rack1' });
});

const bad: Array<{ name: string; edit: (s: string) => string; error: string }> = [
  {
    name: 'node in an unknown zone',
    edit: (s) => s.replace('{name: node1, zone: cn-hangzhou-b', '{name: node1, zone: x'),
    error: 'spec.nodes[1].zone: Unsupported value: "x": not one of the zones in spec.zones (cn-hangzhou-b)',
  },
  { name: 'wrong apiVersion', edit: (s) => s.replace('strata.io/v1alpha1', 'v1'), error: 'apiVersion: Unsupported value: "v1": supported values: "strata.io/v1alpha1"' },
  { name: 'missing region', edit: (s) => s.replace('  region: cn-hangzhou\n', ''), error: 'spec.region: Required value' },
  { name: 'duplicate node', edit: (s) => s.replace('name: master', 'name: node1'), error: 'spec.nodes[1].name: Duplicate value: "node1"' },
  {
    name: 'node name not DNS-1123',
    edit: (s) => s.replace('name: master', 'name: Master_1'),
    error: 'spec.nodes[0].name: Invalid value: "Master_1": a lowercase RFC 1123 subdomain',
  },
  { name: 'bad quantity', edit: (s) => s.replace('localPool: 100Gi', 'localPool: 100Gx'), error: 'spec.nodes[1].localPool: Invalid value: "100Gx"' },
  {
    name: 'bad taint effect',
    edit: (s) => s.replace('effect: NoSchedule', 'effect: Sometimes'),
    error: 'spec.nodes[0].taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
  },
  { name: 'unknown field', edit: (s) => s.replace('localPool: 100Gi', 'localPool: 100Gi, disk: ssd'), error: 'unknown field "spec.nodes[1].disk"' },
  {
    name: 'duplicate zone',
    edit: (s) => s.replace('    - {name: cn-hangzhou-b, zonalPool: 500Gi}', '    - {name: cn-hangzhou-b}\n    - {name: cn-hangzhou-b}'),
    error: 'spec.zones[1].name: Duplicate value: "cn-hangzhou-b"',
  },
];

for (const c of bad) {
  test(`rejects ${c.name}`, () => {
    assert.throws(
      () => parseClusterFile(c.edit(lectureLab), 'lab.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ClusterFileError);
        assert.ok(err.message.startsWith('lab.yaml: '), err.message);
        assert.ok(err.errors.some((e) => e.startsWith(c.error)), `${JSON.stringify(err.errors)} lacks ${c.error}`);
        return true;
      },
    );
  });
}

test('the default cluster has a tainted control plane and workers with local disks in several zones with pools', () => {
  const spec = defaultClusterSpec();
  const tainted = spec.nodes.filter((n) => n.taints.length > 0);
  assert.equal(tainted.length, 1);
  assert.equal(tainted[0].taints[0].key, 'node-role.kubernetes.io/control-plane');
  const workers = spec.nodes.filter((n) => n.taints.length === 0);
  assert.ok(workers.every((n) => n.localPoolBytes > 0n));
  assert.ok(new Set(workers.map((n) => n.zone)).size >= 2);
  assert.ok(spec.zones.every((z) => z.zonalPoolBytes > 0n));
  assert.ok(spec.nodes.length <= 6);
});
