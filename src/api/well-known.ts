// Upstream annotation, label and finalizer names shared by several Strata components. Values are verbatim from
// k8s.io/component-helpers/storage/volume, kube-controller-manager, external-provisioner and external-snapshotter.

// ---- PV controller (component-helpers/storage/volume) ----
export const AnnBindCompleted = 'pv.kubernetes.io/bind-completed';
export const AnnBoundByController = 'pv.kubernetes.io/bound-by-controller';
export const AnnSelectedNode = 'volume.kubernetes.io/selected-node';
export const AnnDynamicallyProvisioned = 'pv.kubernetes.io/provisioned-by';
export const AnnMigratedTo = 'pv.kubernetes.io/migrated-to';
export const AnnStorageProvisioner = 'volume.kubernetes.io/storage-provisioner';
export const AnnBetaStorageProvisioner = 'volume.beta.kubernetes.io/storage-provisioner';
export const AnnBetaStorageClass = 'volume.beta.kubernetes.io/storage-class';
export const NotSupportedProvisioner = 'kubernetes.io/no-provisioner';
export const PVDeletionProtectionFinalizer = 'external-provisioner.volume.kubernetes.io/finalizer';
export const PVDeletionInTreeProtectionFinalizer = 'kubernetes.io/pv-controller';

// ---- StorageClass defaulting ----
export const AnnIsDefaultStorageClass = 'storageclass.kubernetes.io/is-default-class';
export const AnnBetaIsDefaultStorageClass = 'storageclass.beta.kubernetes.io/is-default-class';

// ---- protection controllers ----
export const PVCProtectionFinalizer = 'kubernetes.io/pvc-protection';
export const PVProtectionFinalizer = 'kubernetes.io/pv-protection';

// ---- external-provisioner ----
export const ProvisionerIdentityKey = 'storage.kubernetes.io/csiProvisionerIdentity';
export const PVCCloneFinalizer = 'provisioner.storage.kubernetes.io/cloning-protection';
export const SnapshotSourceProtectionFinalizer = 'provisioner.storage.kubernetes.io/volumesnapshot-as-source-protection';
export const AnnDeletionProvisionerSecretRefName = 'volume.kubernetes.io/provisioner-deletion-secret-name';
export const AnnDeletionProvisionerSecretRefNamespace = 'volume.kubernetes.io/provisioner-deletion-secret-namespace';
export const CSIParameterPrefix = 'csi.storage.k8s.io/';
export const LabelCapacityDriverName = 'csi.storage.k8s.io/drivername';
export const LabelCapacityManagedBy = 'csi.storage.k8s.io/managed-by';

// ---- external-snapshotter ----
export const AnnIsDefaultSnapshotClass = 'snapshot.storage.kubernetes.io/is-default-class';
export const AnnVolumeSnapshotBeingDeleted = 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted';
export const AnnVolumeSnapshotBeingCreated = 'snapshot.storage.kubernetes.io/volumesnapshot-being-created';
export const AnnDeletionSecretRefName = 'snapshot.storage.kubernetes.io/deletion-secret-name';
export const AnnDeletionSecretRefNamespace = 'snapshot.storage.kubernetes.io/deletion-secret-namespace';
export const AnnAllowVolumeModeChange = 'snapshot.storage.kubernetes.io/allow-volume-mode-change';
export const VolumeSnapshotContentFinalizer = 'snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection';
export const VolumeSnapshotBoundFinalizer = 'snapshot.storage.kubernetes.io/volumesnapshot-bound-protection';
export const VolumeSnapshotAsSourceFinalizer = 'snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection';
export const PVCAsSourceFinalizer = 'snapshot.storage.kubernetes.io/pvc-as-source-protection';
export const VolumeSnapshotInGroupFinalizer = 'snapshot.storage.kubernetes.io/volumesnapshot-in-group-protection';
export const LabelSnapshotManagedBy = 'snapshot.storage.kubernetes.io/managed-by';
export const SnapshotAPIGroup = 'snapshot.storage.k8s.io';

// ---- topology labels ----
export const LabelHostname = 'kubernetes.io/hostname';
export const LabelTopologyZone = 'topology.kubernetes.io/zone';
export const LabelTopologyRegion = 'topology.kubernetes.io/region';
export const LabelFailureDomainBetaZone = 'failure-domain.beta.kubernetes.io/zone';
export const LabelFailureDomainBetaRegion = 'failure-domain.beta.kubernetes.io/region';
