import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeError } from './decode.ts';

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
