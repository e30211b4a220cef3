// snapshot.storage.k8s.io/v1 VolumeSnapshotClass: the CRD's schema (no status, no CEL rules).
import { customResourceRules } from './custom-resource.ts';
import { volumeSnapshotClassSchema } from './snapshot-schema.ts';

export const volumeSnapshotClassRules = customResourceRules(volumeSnapshotClassSchema, false);
