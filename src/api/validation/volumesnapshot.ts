// snapshot.storage.k8s.io/v1 VolumeSnapshot: the CRD's schema and CEL rules; status is a subresource.
import type { KindRules } from './rules.ts';
import { customResourceRules } from './custom-resource.ts';
import { volumeSnapshotSchema } from './snapshot-schema.ts';

export const volumeSnapshotRules: KindRules = {
  ...customResourceRules(volumeSnapshotSchema, true),
  // The status subresource makes the apiserver drop status on create.
  prepareForCreate(snapshot) {
    delete snapshot.status;
  },
};
