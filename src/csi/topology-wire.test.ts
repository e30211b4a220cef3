import * as protoLoader from '@grpc/proto-loader';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createVolumeRequestDeserializer, createVolumeRequestSerializer } from './topology-wire.ts';

// protobufjs's own (de)serializers, as @grpc/proto-loader builds them, to check the bytes against.
const definition = protoLoader.loadSync(fileURLToPath(new URL('./proto/csi.proto', import.meta.url)), {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const method = (definition['csi.v1.Controller'] as protoLoader.ServiceDefinition).CreateVolume as protoLoader.MethodDefinition<object, object>;
const serialize = createVolumeRequestSerializer(method.requestSerialize);
const deserialize = createVolumeRequestDeserializer(method.requestDeserialize);

const node = (i: number) => ({ segments: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': `zone-${i % 3}`, 'kubernetes.io/hostname': `node-${i}` } });
const nodes = Array.from({ length: 50 }, (_, i) => node(i));
const request = {
  name: 'pvc-1',
  capacity_range: { required_bytes: '1073741824', limit_bytes: '0' },
  volume_capabilities: [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
  parameters: { type: 'zonal', 'ünïcode': 'välue' },
  accessibility_requirements: { requisite: nodes, preferred: [...nodes.slice(7), ...nodes.slice(0, 7)] },
};

describe('CreateVolumeRequest topology on the wire', () => {
  it('what it encodes, protobufjs decodes to the same request', () => {
    assert.deepEqual(method.requestDeserialize(serialize(request)), method.requestDeserialize(method.requestSerialize(request)));
  });

  it('what protobufjs encodes, it decodes to the same request; each distinct topology is one frozen object', () => {
    const expected = method.requestDeserialize(method.requestSerialize(request));
    const got = deserialize(method.requestSerialize(request)) as typeof request;
    assert.deepEqual(got, expected);
    assert.equal(got.accessibility_requirements.preferred[0], got.accessibility_requirements.requisite[7]);
    assert.ok(Object.isFrozen(got.accessibility_requirements.requisite[0]!.segments));
    const again = deserialize(serialize(request)) as typeof request;
    assert.equal(again.accessibility_requirements.requisite[3], got.accessibility_requirements.requisite[3]);
  });

  it('a request without requirements, or with empty ones, is as protobufjs has it', () => {
    for (const r of [{ ...request, accessibility_requirements: null }, { ...request, accessibility_requirements: { requisite: [], preferred: [] } }]) {
      const bytes = serialize(r);
      assert.deepEqual(deserialize(bytes), method.requestDeserialize(method.requestSerialize(r)));
      assert.deepEqual(method.requestDeserialize(bytes), method.requestDeserialize(method.requestSerialize(r)));
    }
  });

  it('field 7 given twice: the last counts, as protobufjs has it; a malformed request is protobufjs\'s error', () => {
    const a = { name: 'x', accessibility_requirements: { requisite: [node(1)], preferred: [] } };
    const b = { name: 'x', accessibility_requirements: { requisite: [node(2)], preferred: [node(2)] } };
    const twice = Buffer.concat([method.requestSerialize(a), method.requestSerialize(b)]);
    assert.deepEqual(deserialize(twice), method.requestDeserialize(twice));
    const truncated = method.requestSerialize(request).subarray(0, 40);
    assert.throws(() => method.requestDeserialize(truncated));
    assert.throws(() => deserialize(truncated));
  });

  it('a requisite list it has seen, and rotations of it as preferred, decode as protobufjs has them; so does anything near them', () => {
    const rotated = (list: typeof nodes, k: number) => [...list.slice(k), ...list.slice(0, k)];
    const others = Array.from({ length: 50 }, (_, i) => node(i + 100));
    const variants: Array<{ requisite: typeof nodes; preferred: typeof nodes }> = [
      ...[0, 1, 7, 25, 49].map((k) => ({ requisite: nodes, preferred: rotated(nodes, k) })),
      { requisite: nodes, preferred: [] },
      { requisite: nodes, preferred: [...nodes].reverse() },
      { requisite: nodes, preferred: rotated(nodes, 3).slice(0, 49) },
      { requisite: nodes, preferred: [...rotated(nodes, 3).slice(0, 49), node(0)] },
      { requisite: nodes, preferred: [...rotated(nodes, 3), node(3)] },
      { requisite: nodes.slice(0, 49), preferred: rotated(nodes.slice(0, 49), 5) },
      { requisite: [...nodes, node(50)], preferred: rotated(nodes, 5) },
      { requisite: nodes, preferred: rotated(others, 5) },
      { requisite: [...nodes.slice(0, 10), ...nodes.slice(0, 10)], preferred: rotated([...nodes.slice(0, 10), ...nodes.slice(0, 10)], 12) },
      { requisite: others, preferred: rotated(others, 9) },
      { requisite: nodes, preferred: rotated(nodes, 11) },
    ];
    for (const [i, requirement] of variants.entries()) {
      const r = { ...request, accessibility_requirements: requirement };
      const expected = method.requestDeserialize(method.requestSerialize(r));
      assert.deepEqual(deserialize(serialize(r)), expected, `variant ${i}`);
      assert.deepEqual(deserialize(method.requestSerialize(r)), expected, `variant ${i} encoded by protobufjs`);
    }
    // The same topology is the same object, whether it came entry by entry or with a whole run.
    const first = deserialize(serialize({ ...request, accessibility_requirements: { requisite: others, preferred: [] } })) as typeof request;
    const second = deserialize(serialize({ ...request, accessibility_requirements: { requisite: others, preferred: rotated(others, 4) } })) as typeof request;
    assert.equal(second.accessibility_requirements.requisite[4], first.accessibility_requirements.requisite[4]);
    assert.equal(second.accessibility_requirements.preferred[0], first.accessibility_requirements.requisite[4]);
    assert.notEqual(second.accessibility_requirements.requisite, first.accessibility_requirements.requisite);
  });
});
