// snapshot.storage.k8s.io/v1 VolumeSnapshotContent: the CRD's schema and CEL rules; status is a subresource.
import type { KindRules } from './rules.ts';
import { customResourceRules } from './custom-resource.ts';
import { volumeSnapshotContentSchema } from './snapshot-schema.ts';

export const volumeSnapshotContentRules: KindRules = {
  ...customResourceRules(volumeSnapshotContentSchema, false),
  prepareForCreate(content) {
    delete content.status;
  },
};
