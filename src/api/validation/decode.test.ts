import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as allModels from '@kubernetes/client-node/dist/gen/models/all.js';
import { decodeError } from './decode.ts';
import { kindSchema, servedKinds } from './index.ts';
import { RootModels, modelRegistry, type ModelClass } from './models.ts';

// Go's encoding/json wording for each JSON shape kube-apiserver's typed decoding refuses.
const cases: Array<[string, string, unknown, string | undefined]> = [
  ['well-typed pod', 'V1Pod', { metadata: { name: 'p', labels: { a: 'b' } }, spec: { containers: [{ name: 'c', ports: [{ containerPort: 80 }] }] } }, undefined],
  ['unknown fields are not its business', 'V1Pod', { metadata: { name: 'p' }, bogus: [1] }, undefined],
  ['top level not an object', 'V1ConfigMap', [1], 'json: cannot unmarshal array into Go value of type v1.ConfigMap'],
  ['label value not a string', 'V1ConfigMap', { metadata: { labels: { a: 1 } } }, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string'],
  ['labels not a map', 'V1ConfigMap', { metadata: { labels: 'x' } }, 'json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string'],
  ['list item of the wrong type', 'V1PersistentVolumeClaim', { spec: { accessModes: [true] } }, 'json: cannot unmarshal bool into Go struct field PersistentVolumeClaimSpec.spec.accessModes of type string'],
  ['nested struct in a list', 'V1Pod', { spec: { containers: [{ name: 'c', ports: [{ containerPort: 80, protocol: 6 }] }] } }, 'json: cannot unmarshal number into Go struct field ContainerPort.spec.containers.ports.protocol of type string'],
  ['IntOrString takes both', 'V1Pod', { spec: { containers: [{ name: 'c', livenessProbe: { httpGet: { port: 'http' } } }, { name: 'd', livenessProbe: { httpGet: { port: 8080 } } }] } }, undefined],
];

for (const [name, model, body, expected] of cases) {
  test(`decodeError: ${name}`, () => {
    assert.equal(decodeError(model, body), expected);
  });
}

test('the models loaded are exactly those the served kinds reach from client-node\'s, not all of them', () => {
  const all = allModels as unknown as Record<string, ModelClass | undefined>;
  const named = servedKinds().map(kindSchema).filter((schema): schema is string => typeof schema === 'string');
  for (const name of named) assert.ok(RootModels.includes(name), `${name} (a served kind's schema) is a root`);
  const reached = new Set<string>();
  const visit = (name: string): void => {
    if (reached.has(name) || typeof all[name]?.getAttributeTypeMap !== 'function') return;
    reached.add(name);
    for (const { type } of all[name]!.getAttributeTypeMap()) for (const ref of type.match(/[A-Z][A-Za-z0-9]*/g) ?? []) visit(ref);
  };
  for (const root of RootModels) visit(root);
  assert.deepEqual([...modelRegistry.keys()].sort(), [...reached].sort());
  for (const name of reached) assert.equal(modelRegistry.get(name), all[name], name);
  assert.ok(reached.size < Object.keys(all).length / 3, `${reached.size} of ${Object.keys(all).length}`);
});
