// The snapshot.storage.k8s.io/v1 CRD schemas of kubernetes-csi/external-snapshotter (client/config/crd), including
// their x-kubernetes-validations rules and messages.
import type { SchemaNode } from './schema.ts';
import { isObject } from './util.ts';

const string: SchemaNode = { type: 'string' };
const boolean: SchemaNode = { type: 'boolean' };
const dateTime: SchemaNode = { type: 'string', format: 'date-time' };
const metadata: SchemaNode = { type: 'object', model: 'V1ObjectMeta' };

const has = (self: unknown, field: string) => isObject(self) && self[field] !== undefined;
const immutable = (message: string) => ({ message, transition: true, check: (self: unknown, oldSelf: unknown) => self === oldSelf });
const requiredOnceSet = (field: string) => ({
  message: `${field} is required once set`,
  transition: true,
  check: (self: unknown, oldSelf: unknown) => !has(oldSelf, field) || has(self, field),
});
const exactlyOne = (a: string, b: string) => ({
  message: `exactly one of ${a} and ${b} must be set`,
  check: (self: unknown) => has(self, a) !== has(self, b),
});

const snapshotError: SchemaNode = { type: 'object', properties: { message: string, time: dateTime } };

const objectReference: SchemaNode = {
  type: 'object',
  properties: { apiVersion: string, fieldPath: string, kind: string, name: string, namespace: string, resourceVersion: string, uid: string },
};

export const volumeSnapshotSchema: SchemaNode = {
  type: 'object',
  required: ['spec'],
  properties: {
    apiVersion: string,
    kind: string,
    metadata,
    spec: {
      type: 'object',
      required: ['source'],
      properties: {
        source: {
          type: 'object',
          properties: {
            persistentVolumeClaimName: { type: 'string', rules: [immutable('persistentVolumeClaimName is immutable')] },
            volumeSnapshotContentName: { type: 'string', rules: [immutable('volumeSnapshotContentName is immutable')] },
          },
          rules: [
            requiredOnceSet('persistentVolumeClaimName'),
            requiredOnceSet('volumeSnapshotContentName'),
            exactlyOne('volumeSnapshotContentName', 'persistentVolumeClaimName'),
          ],
        },
        volumeSnapshotClassName: {
          type: 'string',
          rules: [{ message: 'volumeSnapshotClassName must not be the empty string when set', check: (self) => self !== '' }],
        },
      },
    },
    status: {
      type: 'object',
      properties: {
        boundVolumeSnapshotContentName: string,
        creationTime: dateTime,
        error: snapshotError,
        readyToUse: boolean,
        restoreSize: {
          type: 'string',
          intOrString: true,
          pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
        },
        volumeGroupSnapshotName: string,
      },
    },
  },
};

export const volumeSnapshotContentSchema: SchemaNode = {
  type: 'object',
  required: ['spec'],
  properties: {
    apiVersion: string,
    kind: string,
    metadata,
    spec: {
      type: 'object',
      required: ['deletionPolicy', 'driver', 'source', 'volumeSnapshotRef'],
      properties: {
        deletionPolicy: { type: 'string', enum: ['Delete', 'Retain'] },
        driver: string,
        source: {
          type: 'object',
          properties: {
            snapshotHandle: { type: 'string', rules: [immutable('Spec.Source.SnapshotHandle is immutable')] },
            volumeHandle: { type: 'string', rules: [immutable('Spec.Source.VolumeHandle is immutable')] },
          },
          rules: [requiredOnceSet('volumeHandle'), requiredOnceSet('snapshotHandle'), exactlyOne('volumeHandle', 'snapshotHandle')],
        },
        sourceVolumeMode: { type: 'string', rules: [immutable('Spec.sourceVolumeMode is immutable')] },
        volumeSnapshotClassName: string,
        volumeSnapshotRef: {
          ...objectReference,
          rules: [
            {
              message: 'both spec.volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace must be set',
              check: (self) => has(self, 'name') && has(self, 'namespace'),
            },
          ],
        },
      },
      rules: [requiredOnceSet('sourceVolumeMode')],
    },
    status: {
      type: 'object',
      properties: {
        creationTime: { type: 'integer', format: 'int64' },
        error: snapshotError,
        readyToUse: boolean,
        restoreSize: { type: 'integer', format: 'int64', minimum: 0 },
        snapshotHandle: string,
        volumeGroupSnapshotHandle: string,
      },
    },
  },
};

export const volumeSnapshotClassSchema: SchemaNode = {
  type: 'object',
  required: ['deletionPolicy', 'driver'],
  properties: {
    allowedTopologies: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          matchLabelExpressions: {
            type: 'array',
            items: { type: 'object', required: ['key', 'values'], properties: { key: string, values: { type: 'array', items: string } } },
          },
        },
      },
    },
    apiVersion: string,
    deletionPolicy: { type: 'string', enum: ['Delete', 'Retain'] },
    driver: string,
    kind: string,
    metadata,
    parameters: { type: 'object', additionalProperties: string },
  },
};
