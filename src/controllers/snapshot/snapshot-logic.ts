// The level-triggered sync logic of the common snapshot controller, mirroring external-snapshotter's
// pkg/common-controller/snapshot_controller.go (syncSnapshot, syncUnreadySnapshot, syncReadySnapshot, syncContent,
// class resolution, binding, finalizers, deletion) and the class handling of snapshot_controller_base.go. It reads
// through listers, writes through the API only, and writes only what changes: status through /status as merge
// patches of the changed fields, finalizers as merge patches guarded by resourceVersion (re-read on conflict),
// annotations and spec fields as merge patches. controller.ts wires it to informers and queues.
import type {
  KubeObject,
  PersistentVolume,
  PersistentVolumeClaim,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from '../../api/types.ts';
import { metaTime } from '../../api/time.ts';
import { bytesToQuantityString } from '../../api/quantity.ts';
import { isVolumeBoundToClaim } from '../../api/volume-matching.ts';
import { isAlreadyExists, isConflict } from '../../client/errors.ts';
import { ControllerUpdateError, SnapshotSyncError } from './errors.ts';
import type { OperationMetrics, SnapshotType } from './metrics.ts';
import { CreateSnapshotAndReadyOperationName, CreateSnapshotOperationName, DeleteSnapshotOperationName } from './metrics.ts';
import {
  AnnDeletionSecretRefName,
  AnnDeletionSecretRefNamespace,
  AnnVolumeSnapshotBeingDeleted,
  PVCAsSourceFinalizer,
  SnapshotAPIGroup,
  SnapshotAPIVersion,
  SnapshotKind,
  SnapshotterSecretParams,
  VolumeSnapshotAsSourceFinalizer,
  VolumeSnapshotBoundFinalizer,
  VolumeSnapshotContentFinalizer,
  deepEqual,
  dynamicSnapshotContentName,
  errorText,
  getSecretReference,
  goQuote,
  hasAnnotation,
  hasFinalizer,
  isBoundVolumeSnapshotContentNameSet,
  isDefaultSnapshotClass,
  isSnapshotCreated,
  isSnapshotDeletionCandidate,
  isSnapshotReady,
  isVolumeSnapshotRefSet,
  needToAddContentFinalizer,
  needToAddSnapshotAsSourceFinalizer,
  needToAddSnapshotBoundFinalizer,
  snapshotKey,
  snapshotRefKey,
} from './utils.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(object: KubeObject, type: EventType, reason: string, message: string): void;
}

/** Read side: informer caches (with the controller's own latest writes folded in). */
export interface SnapshotListers {
  getSnapshot(namespace: string, name: string): VolumeSnapshot | undefined;
  /** VolumeSnapshots of the namespace whose source is this PVC. */
  snapshotsOfClaim(namespace: string, claimName: string): VolumeSnapshot[];
  getContent(name: string): VolumeSnapshotContent | undefined;
  getClass(name: string): VolumeSnapshotClass | undefined;
  listClasses(): VolumeSnapshotClass[];
  getClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  /** PVCs of the namespace whose dataSource or dataSourceRef names a VolumeSnapshot of this name. */
  claimsRestoringFrom(namespace: string, snapshotName: string): PersistentVolumeClaim[];
  getVolume(name: string): PersistentVolume | undefined;
}

/** Write side: each call returns the object as stored. Patches are JSON merge patches. */
export interface SnapshotApi {
  getSnapshot(namespace: string, name: string): Promise<VolumeSnapshot>;
  patchSnapshot(namespace: string, name: string, patch: object): Promise<VolumeSnapshot>;
  patchSnapshotStatus(namespace: string, name: string, patch: object): Promise<VolumeSnapshot>;
  getContent(name: string): Promise<VolumeSnapshotContent>;
  createContent(content: VolumeSnapshotContent): Promise<VolumeSnapshotContent>;
  patchContent(name: string, patch: object): Promise<VolumeSnapshotContent>;
  deleteContent(name: string): Promise<void>;
  getClaim(namespace: string, name: string): Promise<PersistentVolumeClaim>;
  patchClaim(namespace: string, name: string, patch: object): Promise<PersistentVolumeClaim>;
  getVolume(name: string): Promise<PersistentVolume>;
}

export interface SnapshotSyncDeps {
  listers: SnapshotListers;
  api: SnapshotApi;
  recorder: EventRecorder;
  /** Queue a VolumeSnapshot ("namespace/name") for sync. */
  enqueueSnapshot(key: string): void;
  metrics?: OperationMetrics;
  /** --prevent-volume-mode-conversion (default true): record the source's volumeMode on the content. */
  preventVolumeModeConversion?: boolean;
}

type SnapshotStatus = NonNullable<VolumeSnapshot['status']>;

const noMetrics: OperationMetrics = { operationStart() {}, recordMetrics() {} };
// Finalizer writes are guarded by resourceVersion; a conflict re-reads and recomputes, this many times.
const maxConflictRetries = 5;

/** The lister's NotFound message (apierrors.NewNotFound). */
function notFoundMessage(resource: string, name: string): string {
  return `${resource} ${goQuote(name)} not found`;
}

/**
 * Writes a new finalizer list computed from the object's current one (change returns undefined: nothing to do),
 * guarded by resourceVersion; on conflict it re-reads and recomputes.
 */
export async function writeFinalizers<T extends KubeObject>(
  obj: T,
  read: () => Promise<T>,
  patch: (body: object) => Promise<T>,
  change: (finalizers: string[]) => string[] | undefined,
): Promise<T> {
  let current = obj;
  for (let attempt = 0; ; attempt++) {
    const next = change(current.metadata.finalizers ?? []);
    if (!next) return current;
    try {
      return await patch({ metadata: { resourceVersion: current.metadata.resourceVersion, finalizers: next.length ? next : null } });
    } catch (err) {
      if (!isConflict(err) || attempt >= maxConflictRetries) throw err;
      current = await read();
    }
  }
}

const adding = (finalizer: string) => (list: string[]) => (list.includes(finalizer) ? undefined : [...list, finalizer]);
const removing = (...finalizers: string[]) => (list: string[]) =>
  list.some((f) => finalizers.includes(f)) ? list.filter((f) => !finalizers.includes(f)) : undefined;

export class SnapshotSyncLogic {
  private readonly listers: SnapshotListers;
  private readonly api: SnapshotApi;
  private readonly recorder: EventRecorder;
  private readonly metrics: OperationMetrics;
  private readonly deps: SnapshotSyncDeps;
  // The tail of each claim's chain of pvc-as-source-protection decisions ("namespace/name").
  private readonly claimFinalizerChains = new Map<string, Promise<void>>();

  constructor(deps: SnapshotSyncDeps) {
    this.deps = deps;
    this.listers = deps.listers;
    this.api = deps.api;
    this.recorder = deps.recorder;
    this.metrics = deps.metrics ?? noMetrics;
  }

  // ---------------------------------------------------------------- entry points

  /** syncSnapshotByKey for a VolumeSnapshot still in the cache: resolve its class, then syncSnapshot. */
  async syncSnapshotByKey(namespace: string, name: string): Promise<void> {
    const snapshot = this.listers.getSnapshot(namespace, name);
    if (!snapshot) return;
    await this.syncSnapshot(await this.checkAndUpdateSnapshotClass(snapshot));
  }

  /** syncContentByKey for a VolumeSnapshotContent still in the cache. */
  async syncContentByKey(name: string): Promise<void> {
    const content = this.listers.getContent(name);
    if (content) await this.syncContent(content);
  }

  /** A VolumeSnapshot is gone from the API: its deletion finished. Returns the content to sync, if it was bound. */
  snapshotDeleted(snapshot: VolumeSnapshot): string | undefined {
    this.metrics.recordMetrics(DeleteSnapshotOperationName, snapshot.metadata.uid ?? '', 'success', this.snapshotDriverName(snapshot));
    return snapshot.status?.boundVolumeSnapshotContentName || undefined;
  }

  // ---------------------------------------------------------------- content

  async syncContent(content: VolumeSnapshotContent): Promise<void> {
    const source = content.spec.source ?? {};
    if (!source.volumeHandle === !source.snapshotHandle) {
      const message = 'Exactly one of VolumeHandle and SnapshotHandle should be specified';
      this.recorder.event(content, 'Warning', 'ContentValidationError', message);
      throw new SnapshotSyncError(message);
    }
    // Pre-bound to a VolumeSnapshot that has not bound it yet: syncSnapshot does that.
    const ref = content.spec.volumeSnapshotRef;
    if (!ref.uid) return;
    if (needToAddContentFinalizer(content)) {
      await this.addContentFinalizer(content);
      return;
    }
    let snapshot = this.listers.getSnapshot(ref.namespace ?? '', ref.name ?? '');
    if (snapshot && snapshot.metadata.uid !== ref.uid) {
      // The snapshot was deleted and another one with the same name created: treat as missing.
      snapshot = undefined;
    } else if (snapshot && this.needsUpdateSnapshotStatus(snapshot, content)) {
      this.deps.enqueueSnapshot(snapshotRefKey(ref));
    }
    // A missing snapshot never triggers deletion: the content may have been copied from another cluster.
    if (snapshot && isSnapshotDeletionCandidate(snapshot)) await this.setAnnVolumeSnapshotBeingDeleted(content);
  }

  private async addContentFinalizer(content: VolumeSnapshotContent): Promise<void> {
    const name = content.metadata.name ?? '';
    try {
      await writeFinalizers(content, () => this.api.getContent(name), (p) => this.api.patchContent(name, p), adding(VolumeSnapshotContentFinalizer));
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  private async setAnnVolumeSnapshotBeingDeleted(content: VolumeSnapshotContent): Promise<VolumeSnapshotContent> {
    if (hasAnnotation(content, AnnVolumeSnapshotBeingDeleted)) return content;
    const name = content.metadata.name ?? '';
    try {
      return await this.api.patchContent(name, { metadata: { annotations: { [AnnVolumeSnapshotBeingDeleted]: 'yes' } } });
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  // ---------------------------------------------------------------- snapshot

  async syncSnapshot(snapshot: VolumeSnapshot): Promise<void> {
    try {
      await this.checkandRemovePVCFinalizer(snapshot, false);
    } catch {
      this.recorder.event(snapshot, 'Warning', 'ErrorPVCFinalizer', 'Error check and remove PVC Finalizer for VolumeSnapshot');
    }
    if (snapshot.metadata.deletionTimestamp) {
      await this.processSnapshotWithDeletionTimestamp(snapshot);
      return;
    }
    const source = snapshot.spec.source ?? {};
    if (!source.persistentVolumeClaimName === !source.volumeSnapshotContentName) {
      const message = 'Exactly one of PersistentVolumeClaimName and VolumeSnapshotContentName should be specified';
      await this.updateSnapshotErrorStatusWithEvent(snapshot, true, 'Warning', 'SnapshotValidationError', message);
      throw new SnapshotSyncError(message);
    }
    let current: VolumeSnapshot;
    try {
      current = await this.checkandAddSnapshotFinalizers(snapshot);
    } catch (err) {
      this.recorder.event(snapshot, 'Warning', 'SnapshotFinalizerError', `Failed to check and update snapshot: ${errorText(err)}`);
      throw err;
    }
    if (!isSnapshotReady(current) || !isBoundVolumeSnapshotContentNameSet(current)) await this.syncUnreadySnapshot(current);
    else await this.syncReadySnapshot(current);
  }

  /** checkAndUpdateSnapshotClass: the snapshot with its class resolved (the driver's default patched in when none is named). */
  async checkAndUpdateSnapshotClass(snapshot: VolumeSnapshot): Promise<VolumeSnapshot> {
    const className = snapshot.spec.volumeSnapshotClassName;
    if (className !== undefined) {
      if (this.listers.getClass(className)) return snapshot;
      const err = notFoundMessage(`volumesnapshotclass.${SnapshotAPIGroup}`, className);
      await this.updateSnapshotErrorStatusWithEvent(snapshot, false, 'Warning', 'GetSnapshotClassFailed', `Failed to get snapshot class with error ${err}`);
      // A snapshot being deleted is still processed so that it can go away.
      if (snapshot.metadata.deletionTimestamp) return snapshot;
      throw new SnapshotSyncError(err);
    }
    try {
      return await this.setDefaultSnapshotClass(snapshot);
    } catch (err) {
      await this.updateSnapshotErrorStatusWithEvent(
        snapshot, false, 'Warning', 'SetDefaultSnapshotClassFailed', `Failed to set default snapshot class with error ${errorText(err)}`,
      );
      throw err;
    }
  }

  private async setDefaultSnapshotClass(snapshot: VolumeSnapshot): Promise<VolumeSnapshot> {
    if (snapshot.spec.source.volumeSnapshotContentName) return snapshot;
    const driver = await this.pvDriverFromSnapshot(snapshot);
    const defaults = this.listers.listClasses().filter((c) => isDefaultSnapshotClass(c) && c.driver === driver);
    if (defaults.length === 0) throw new SnapshotSyncError('cannot find default snapshot class');
    if (defaults.length > 1) throw new SnapshotSyncError(`${defaults.length} default snapshot classes were found`);
    const { namespace = '', name = '' } = snapshot.metadata;
    return this.api.patchSnapshot(namespace, name, { spec: { volumeSnapshotClassName: defaults[0]!.metadata.name } });
  }

  private async processSnapshotWithDeletionTimestamp(snapshot: VolumeSnapshot): Promise<void> {
    this.metrics.operationStart(DeleteSnapshotOperationName, snapshot.metadata.uid ?? '', this.snapshotDriverName(snapshot), this.snapshotType(snapshot));
    let contentName = snapshot.status?.boundVolumeSnapshotContentName ?? '';
    // A dynamic content may exist although the status was never written (failure right after creating it).
    if (!contentName && snapshot.spec.source.persistentVolumeClaimName) contentName = dynamicSnapshotContentName(snapshot);
    let content = contentName ? this.listers.getContent(contentName) : undefined;
    let deleteContent = false;
    // Only a content pointing back at this snapshot is touched.
    if (content && isVolumeSnapshotRefSet(snapshot, content)) deleteContent = content.spec.deletionPolicy === 'Delete';
    else content = undefined;
    await this.checkandRemoveSnapshotFinalizersAndCheckandDeleteContent(snapshot, content, deleteContent);
  }

  private async checkandRemoveSnapshotFinalizersAndCheckandDeleteContent(
    snapshot: VolumeSnapshot,
    found: VolumeSnapshotContent | undefined,
    deleteContent: boolean,
  ): Promise<void> {
    if (!isSnapshotDeletionCandidate(snapshot)) return;
    let content = found;
    if (content && this.isVolumeBeingCreatedFromSnapshot(snapshot)) {
      // controller.ts resyncs the snapshot when such a PVC leaves Pending.
      this.recorder.event(snapshot, 'Warning', 'SnapshotDeletePending', 'Snapshot is being used to restore a PVC');
      return;
    }
    // Whatever the policy: lets the sidecar act once the content has a deletionTimestamp.
    if (content) content = await this.setAnnVolumeSnapshotBeingDeleted(content);
    if (content && deleteContent && !content.metadata.deletionTimestamp) {
      const name = content.metadata.name ?? '';
      try {
        await this.api.deleteContent(name);
      } catch (err) {
        this.recorder.event(snapshot, 'Warning', 'SnapshotContentObjectDeleteError', 'Failed to delete snapshot content API object');
        throw new SnapshotSyncError(`failed to delete VolumeSnapshotContent ${name} from API server: ${goQuote(errorText(err))}`);
      }
    }
    // The bound finalizer stays while a Delete-policy content is being removed by the sidecar.
    await this.removeSnapshotFinalizer(snapshot, true, !(content && deleteContent));
  }

  private isVolumeBeingCreatedFromSnapshot(snapshot: VolumeSnapshot): boolean {
    const { namespace = '', name = '' } = snapshot.metadata;
    return this.listers.claimsRestoringFrom(namespace, name).some((pvc) => {
      if (pvc.status?.phase !== 'Pending') return false;
      return [pvc.spec.dataSource, pvc.spec.dataSourceRef].some(
        (ds) =>
          ds?.name === name &&
          ds.kind === SnapshotKind &&
          ds.apiGroup === SnapshotAPIGroup &&
          (!('namespace' in ds) || !ds.namespace || ds.namespace === namespace),
      );
    });
  }

  private async checkandAddSnapshotFinalizers(snapshot: VolumeSnapshot): Promise<VolumeSnapshot> {
    const content = snapshot.spec.source.volumeSnapshotContentName
      ? await this.getPreprovisionedContentFromStore(snapshot)
      : await this.getDynamicallyProvisionedContentFromStore(snapshot);
    const addSource = needToAddSnapshotAsSourceFinalizer(snapshot);
    const addBound = !!content && needToAddSnapshotBoundFinalizer(snapshot) && content.spec.deletionPolicy === 'Delete';
    if (!addSource && !addBound) return snapshot;
    const { namespace = '', name = '' } = snapshot.metadata;
    const wanted = [...(addSource ? [VolumeSnapshotAsSourceFinalizer] : []), ...(addBound ? [VolumeSnapshotBoundFinalizer] : [])];
    try {
      return await writeFinalizers(
        snapshot,
        () => this.api.getSnapshot(namespace, name),
        (p) => this.api.patchSnapshot(namespace, name, p),
        (list) => (wanted.every((f) => list.includes(f)) ? undefined : [...list, ...wanted.filter((f) => !list.includes(f))]),
      );
    } catch (err) {
      throw new ControllerUpdateError(snapshotKey(snapshot), errorText(err));
    }
  }

  private async removeSnapshotFinalizer(snapshot: VolumeSnapshot, removeSource: boolean, removeBound: boolean): Promise<void> {
    if (!removeSource && !removeBound) return;
    // The PVC finalizer must go first: once the snapshot is gone nothing would trigger its removal.
    try {
      await this.checkandRemovePVCFinalizer(snapshot, true);
    } catch (err) {
      this.recorder.event(snapshot, 'Warning', 'ErrorPVCFinalizer', 'Error check and remove PVC Finalizer for VolumeSnapshot');
      throw new ControllerUpdateError(snapshot.metadata.name ?? '', errorText(err));
    }
    const remove = [...(removeSource ? [VolumeSnapshotAsSourceFinalizer] : []), ...(removeBound ? [VolumeSnapshotBoundFinalizer] : [])];
    const { namespace = '', name = '' } = snapshot.metadata;
    try {
      await writeFinalizers(snapshot, () => this.api.getSnapshot(namespace, name), (p) => this.api.patchSnapshot(namespace, name, p), removing(...remove));
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  private async syncReadySnapshot(snapshot: VolumeSnapshot): Promise<void> {
    const content = this.listers.getContent(snapshot.status!.boundVolumeSnapshotContentName!);
    if (!content) {
      await this.updateSnapshotErrorStatusWithEvent(snapshot, true, 'Warning', 'SnapshotContentMissing', 'VolumeSnapshotContent is missing');
      return;
    }
    if (!isVolumeSnapshotRefSet(snapshot, content)) {
      await this.updateSnapshotErrorStatusWithEvent(
        snapshot, true, 'Warning', 'SnapshotMisbound', 'VolumeSnapshotContent is not bound to the VolumeSnapshot correctly',
      );
    }
  }

  private async syncUnreadySnapshot(snapshot: VolumeSnapshot): Promise<void> {
    const key = snapshotKey(snapshot);
    const uid = snapshot.metadata.uid ?? '';
    const driver = this.snapshotDriverName(snapshot);
    const type = this.snapshotType(snapshot);
    if (!isSnapshotCreated(snapshot)) this.metrics.operationStart(CreateSnapshotOperationName, uid, driver, type);
    this.metrics.operationStart(CreateSnapshotAndReadyOperationName, uid, driver, type);

    const contentNameWanted = snapshot.spec.source.volumeSnapshotContentName;
    if (contentNameWanted) {
      const content = await this.getPreprovisionedContentFromStore(snapshot);
      if (!content) {
        await this.updateSnapshotErrorStatusWithEvent(snapshot, true, 'Warning', 'SnapshotContentMissing', 'VolumeSnapshotContent is missing');
        throw new SnapshotSyncError(`snapshot ${key} requests an non-existing content ${contentNameWanted}`);
      }
      let bound: VolumeSnapshotContent;
      try {
        bound = await this.checkandBindSnapshotContent(snapshot, content);
      } catch (err) {
        await this.updateSnapshotErrorStatusWithEvent(
          snapshot, true, 'Warning', 'SnapshotBindFailed', `Snapshot failed to bind VolumeSnapshotContent, ${errorText(err)}`,
        );
        throw new SnapshotSyncError(
          `snapshot ${key} is bound, but VolumeSnapshotContent ${content.metadata.name} is not bound to the VolumeSnapshot correctly, ${errorText(err)}`,
        );
      }
      await this.updateSnapshotStatusOrReport(snapshot, bound, false);
      return;
    }

    const existing = await this.getDynamicallyProvisionedContentFromStore(snapshot);
    if (existing) {
      if (existing.spec.source.snapshotHandle) {
        await this.updateSnapshotErrorStatusWithEvent(
          snapshot, true, 'Warning', 'SnapshotHandleSet', `Snapshot handle should not be set in content ${key} for dynamic provisioning`,
        );
        throw new SnapshotSyncError(`snapshotHandle should not be set in the content for dynamic provisioning for snapshot ${key}`);
      }
      await this.updateSnapshotStatusOrReport(snapshot, existing, true);
      return;
    }
    if (!snapshot.spec.source.persistentVolumeClaimName) {
      await this.updateSnapshotErrorStatusWithEvent(snapshot, true, 'Warning', 'SnapshotPVCSourceMissing', `PVC source for snapshot ${key} is missing`);
      throw new SnapshotSyncError(`expected PVC source for snapshot ${key} but got nil`);
    }
    let content: VolumeSnapshotContent;
    try {
      content = await this.createSnapshotContent(snapshot);
    } catch (err) {
      await this.updateSnapshotErrorStatusWithEvent(
        snapshot, true, 'Warning', 'SnapshotContentCreationFailed', `Failed to create snapshot content with error ${errorText(err)}`,
      );
      throw err;
    }
    await this.updateSnapshotStatusOrReport(snapshot, content, false);
  }

  /** updateSnapshotStatus; a failure is recorded on the snapshot (SnapshotStatusUpdateFailed) and rethrown. */
  private async updateSnapshotStatusOrReport(snapshot: VolumeSnapshot, content: VolumeSnapshotContent, setReadyToFalse: boolean): Promise<void> {
    try {
      await this.updateSnapshotStatus(snapshot, content);
    } catch (err) {
      await this.updateSnapshotErrorStatusWithEvent(
        snapshot, setReadyToFalse, 'Warning', 'SnapshotStatusUpdateFailed', `Snapshot status update failed, ${errorText(err)}`,
      ).catch(() => undefined);
      throw err;
    }
  }

  /** The pre-provisioned content a snapshot names, checked to be one (snapshotHandle) and to point back at it. */
  private async getPreprovisionedContentFromStore(snapshot: VolumeSnapshot): Promise<VolumeSnapshotContent | undefined> {
    const contentName = snapshot.spec.source.volumeSnapshotContentName!;
    const content = this.listers.getContent(contentName);
    if (!content) return undefined;
    if (!content.spec.source.snapshotHandle) {
      await this.updateSnapshotErrorStatusWithEvent(
        snapshot, true, 'Warning', 'SnapshotContentMismatch', 'VolumeSnapshotContent is dynamically provisioned while expecting a pre-provisioned one',
      );
      throw new SnapshotSyncError(
        `snapshot ${snapshotKey(snapshot)} expects a pre-provisioned VolumeSnapshotContent ${contentName} but gets a dynamically provisioned one`,
      );
    }
    const ref = content.spec.volumeSnapshotRef;
    if (ref.name !== snapshot.metadata.name || ref.namespace !== snapshot.metadata.namespace || (ref.uid && ref.uid !== snapshot.metadata.uid)) {
      const message = `VolumeSnapshotContent [${contentName}] is bound to a different snapshot`;
      await this.updateSnapshotErrorStatusWithEvent(snapshot, true, 'Warning', 'SnapshotContentMisbound', message);
      throw new SnapshotSyncError(message);
    }
    return content;
  }

  /** The content `snapcontent-<uid>` of a dynamic snapshot, checked to be dynamic (volumeHandle) and bound to it. */
  private async getDynamicallyProvisionedContentFromStore(snapshot: VolumeSnapshot): Promise<VolumeSnapshotContent | undefined> {
    const contentName = dynamicSnapshotContentName(snapshot);
    const content = this.listers.getContent(contentName);
    if (!content) return undefined;
    if (!content.spec.source.volumeHandle) {
      await this.updateSnapshotErrorStatusWithEvent(
        snapshot, true, 'Warning', 'SnapshotContentMismatch', `VolumeSnapshotContent ${contentName} is pre-provisioned while expecting a dynamically provisioned one`,
      );
      throw new SnapshotSyncError(
        `snapshot ${snapshotKey(snapshot)} expects a dynamically provisioned VolumeSnapshotContent ${contentName} but gets a pre-provisioned one`,
      );
    }
    // Unlike a pre-provisioned one, a dynamic content always carries the UID of the snapshot it was made for.
    if (!isVolumeSnapshotRefSet(snapshot, content)) {
      const message = `VolumeSnapshotContent [${contentName}] is bound to a different snapshot`;
      await this.updateSnapshotErrorStatusWithEvent(snapshot, true, 'Warning', 'SnapshotContentMisbound', message);
      throw new SnapshotSyncError(message);
    }
    return content;
  }

  /** Static binding: records the snapshot's UID (and class) in the content's volumeSnapshotRef. */
  private async checkandBindSnapshotContent(snapshot: VolumeSnapshot, content: VolumeSnapshotContent): Promise<VolumeSnapshotContent> {
    const ref = content.spec.volumeSnapshotRef;
    const contentName = content.metadata.name ?? '';
    if (ref.name !== snapshot.metadata.name || (ref.uid && ref.uid !== snapshot.metadata.uid)) {
      throw new SnapshotSyncError(`Could not bind snapshot ${snapshot.metadata.name} and content ${contentName}, the VolumeSnapshotRef does not match`);
    }
    const className = snapshot.spec.volumeSnapshotClassName;
    if (ref.uid && (content.spec.volumeSnapshotClassName !== undefined || className === undefined)) return content;
    const spec: Record<string, unknown> = { volumeSnapshotRef: { uid: snapshot.metadata.uid } };
    if (className !== undefined) spec.volumeSnapshotClassName = className;
    return this.api.patchContent(contentName, { spec });
  }

  private needsUpdateSnapshotStatus(snapshot: VolumeSnapshot, content: VolumeSnapshotContent): boolean {
    const s = snapshot.status;
    const c = content.status;
    if (!c) return false;
    if (!s) return true;
    if (s.boundVolumeSnapshotContentName === undefined) return true;
    if (s.creationTime === undefined && c.creationTime !== undefined) return true;
    if (c.readyToUse !== undefined && s.readyToUse !== c.readyToUse) return true;
    if (s.restoreSize === undefined && c.restoreSize !== undefined) return true;
    return isZeroQuantity(s.restoreSize) && (c.restoreSize ?? 0) > 0;
  }

  /** updateSnapshotStatus: copies the content's status into the snapshot's, writing only the fields that change. */
  async updateSnapshotStatus(snapshot: VolumeSnapshot, content: VolumeSnapshotContent): Promise<VolumeSnapshot> {
    const c = content.status;
    const createdAt = c?.creationTime !== undefined ? metaTime(c.creationTime / 1e6) : undefined;
    const size = c?.restoreSize;
    const readyToUse = c?.readyToUse ?? false;
    const contentError = c?.error;
    const old = snapshot.status;
    let next: SnapshotStatus;
    if (!old) {
      next = { boundVolumeSnapshotContentName: content.metadata.name, readyToUse };
      if (createdAt) next.creationTime = createdAt;
      if (size !== undefined) next.restoreSize = bytesToQuantityString(size);
      if (contentError) next.error = contentError;
    } else {
      next = { ...old };
      next.boundVolumeSnapshotContentName ??= content.metadata.name;
      if (next.creationTime === undefined && createdAt) next.creationTime = createdAt;
      if (next.readyToUse !== readyToUse) {
        next.readyToUse = readyToUse;
        if (readyToUse) delete next.error;
      }
      if (size !== undefined && (next.restoreSize === undefined || (isZeroQuantity(next.restoreSize) && size > 0))) {
        next.restoreSize = bytesToQuantityString(size);
      }
      // The content's error (or its absence) wins over the snapshot's.
      if (contentError) next.error = contentError;
      else delete next.error;
    }
    const patch = statusPatch(old ?? {}, next);
    if (!patch) return snapshot;

    const uid = snapshot.metadata.uid ?? '';
    const updated: VolumeSnapshot = { ...snapshot, status: next };
    if (!isSnapshotCreated(snapshot) && isSnapshotCreated(updated)) {
      this.metrics.recordMetrics(CreateSnapshotOperationName, uid, 'success', content.spec.driver);
      this.recorder.event(snapshot, 'Normal', 'SnapshotCreated', `Snapshot ${snapshotKey(snapshot)} was successfully created by the CSI driver.`);
    }
    if (!isSnapshotReady(snapshot) && isSnapshotReady(updated)) {
      this.metrics.recordMetrics(CreateSnapshotAndReadyOperationName, uid, 'success', content.spec.driver);
      this.recorder.event(snapshot, 'Normal', 'SnapshotReady', `Snapshot ${snapshotKey(snapshot)} is ready to use.`);
    }
    const { namespace = '', name = '' } = snapshot.metadata;
    try {
      return await this.api.patchSnapshotStatus(namespace, name, { status: patch });
    } catch (err) {
      throw new ControllerUpdateError(snapshotKey(snapshot), errorText(err));
    }
  }

  /**
   * Records an error in the snapshot's status (readyToUse false when asked) and emits the event — both only when the
   * message differs from the one already recorded. The event goes out even when the status write fails.
   */
  async updateSnapshotErrorStatusWithEvent(
    snapshot: VolumeSnapshot,
    setReadyToFalse: boolean,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    if (snapshot.status?.error?.message === message) return;
    const status: Record<string, unknown> = { error: { time: metaTime(), message } };
    if (setReadyToFalse) status.readyToUse = false;
    const { namespace = '', name = '' } = snapshot.metadata;
    try {
      await this.api.patchSnapshotStatus(namespace, name, { status });
    } finally {
      this.recorder.event(snapshot, type, reason, message);
    }
  }

  // ---------------------------------------------------------------- dynamic creation

  private async createSnapshotContent(snapshot: VolumeSnapshot): Promise<VolumeSnapshotContent> {
    await this.ensurePVCFinalizer(snapshot);
    let input: { cls: VolumeSnapshotClass; volume: PersistentVolume; contentName: string; secret: ReturnType<typeof getSecretReference> };
    try {
      input = await this.getCreateSnapshotInput(snapshot);
    } catch (err) {
      throw new SnapshotSyncError(`failed to get input parameters to create snapshot ${snapshot.metadata.name}: ${goQuote(errorText(err))}`);
    }
    const { cls, volume, contentName, secret } = input;
    if (!volume.spec.csi) throw new SnapshotSyncError(`cannot find CSI PersistentVolumeSource for volume ${volume.metadata.name}`);
    const content: VolumeSnapshotContent = {
      apiVersion: SnapshotAPIVersion,
      kind: 'VolumeSnapshotContent',
      metadata: { name: contentName },
      spec: {
        volumeSnapshotRef: {
          kind: SnapshotKind,
          namespace: snapshot.metadata.namespace,
          name: snapshot.metadata.name,
          uid: snapshot.metadata.uid,
          apiVersion: SnapshotAPIVersion,
          resourceVersion: snapshot.metadata.resourceVersion,
        },
        source: { volumeHandle: volume.spec.csi.volumeHandle },
        volumeSnapshotClassName: cls.metadata.name,
        deletionPolicy: cls.deletionPolicy,
        driver: cls.driver,
      },
    };
    if ((this.deps.preventVolumeModeConversion ?? true) && volume.spec.volumeMode) content.spec.sourceVolumeMode = volume.spec.volumeMode;
    if (secret) content.metadata.annotations = { [AnnDeletionSecretRefName]: secret.name, [AnnDeletionSecretRefNamespace]: secret.namespace };
    let created: VolumeSnapshotContent;
    try {
      created = await this.api.createContent(content);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        const key = snapshotKey(snapshot);
        this.recorder.event(
          snapshot, 'Warning', 'CreateSnapshotContentFailed', `Error creating volume snapshot content object for snapshot ${key}: ${errorText(err)}.`,
        );
        throw new ControllerUpdateError(key, errorText(err));
      }
      created = content; // created by an earlier sync whose status write was lost
    }
    this.recorder.event(snapshot, 'Normal', 'CreatingSnapshot', `Waiting for a snapshot ${snapshotKey(snapshot)} to be created by the CSI driver.`);
    return created;
  }

  private async getCreateSnapshotInput(snapshot: VolumeSnapshot) {
    const className = snapshot.spec.volumeSnapshotClassName;
    if (className === undefined) throw new SnapshotSyncError(`failed to take snapshot ${snapshot.metadata.name} without a snapshot class`);
    const cls = this.listers.getClass(className);
    if (!cls) throw new SnapshotSyncError(notFoundMessage(`volumesnapshotclass.${SnapshotAPIGroup}`, className));
    const volume = await this.getVolumeFromVolumeSnapshot(snapshot);
    const contentName = dynamicSnapshotContentName(snapshot);
    const secret = getSecretReference(SnapshotterSecretParams, cls.parameters, contentName, snapshot);
    return { cls, volume, contentName, secret };
  }

  private getClaimFromVolumeSnapshot(snapshot: VolumeSnapshot): PersistentVolumeClaim {
    const pvcName = snapshot.spec.source.persistentVolumeClaimName;
    if (pvcName === undefined) throw new SnapshotSyncError('the snapshot source PVC name is not specified');
    if (pvcName === '') throw new SnapshotSyncError(`the PVC name is not specified in snapshot ${snapshotKey(snapshot)}`);
    const pvc = this.listers.getClaim(snapshot.metadata.namespace ?? '', pvcName);
    if (!pvc) {
      throw new SnapshotSyncError(`failed to retrieve PVC ${pvcName} from the lister: ${goQuote(notFoundMessage('persistentvolumeclaim', pvcName))}`);
    }
    return pvc;
  }

  private async getVolumeFromVolumeSnapshot(snapshot: VolumeSnapshot): Promise<PersistentVolume> {
    const pvc = this.getClaimFromVolumeSnapshot(snapshot);
    const pvcName = pvc.metadata.name ?? '';
    if (pvc.status?.phase !== 'Bound') {
      throw new SnapshotSyncError(`the PVC ${pvcName} is not yet bound to a PV, will not attempt to take a snapshot`);
    }
    const pvName = pvc.spec.volumeName ?? '';
    let pv = this.listers.getVolume(pvName);
    if (!pv) {
      // Not cached yet: ask the API server, as upstream always does.
      try {
        pv = await this.api.getVolume(pvName);
      } catch (err) {
        throw new SnapshotSyncError(`failed to retrieve PV ${pvName} from the API server: ${goQuote(errorText(err))}`);
      }
    }
    if (!isVolumeBoundToClaim(pv, pvc)) throw new SnapshotSyncError('claim in dataSource not bound or invalid');
    return pv;
  }

  private async pvDriverFromSnapshot(snapshot: VolumeSnapshot): Promise<string> {
    const pv = await this.getVolumeFromVolumeSnapshot(snapshot);
    if (!pv.spec.csi) {
      throw new SnapshotSyncError(`snapshotting non-CSI volumes is not supported, snapshot:${snapshot.metadata.namespace}/${snapshot.metadata.name}`);
    }
    return pv.spec.csi.driver;
  }

  // ---------------------------------------------------------------- source PVC protection

  /**
   * Runs one claim's pvc-as-source-protection decision after the previous one has finished. Snapshots of one claim are
   * synced by several workers at once; without this they all read the claim before the first write and all but one
   * write conflicts (a 409 and a re-read each). In turn, each decision reads the claim as the previous one left it.
   */
  private async oneClaimFinalizerDecisionAtATime(namespace: string, name: string, decide: () => Promise<void>): Promise<void> {
    const key = `${namespace}/${name}`;
    const run = (this.claimFinalizerChains.get(key) ?? Promise.resolve()).then(decide);
    const tail = run.catch(() => undefined);
    this.claimFinalizerChains.set(key, tail);
    try {
      await run;
    } finally {
      if (this.claimFinalizerChains.get(key) === tail) this.claimFinalizerChains.delete(key);
    }
  }

  private async ensurePVCFinalizer(snapshot: VolumeSnapshot): Promise<void> {
    if (!snapshot.spec.source.persistentVolumeClaimName) return;
    const claim = (): PersistentVolumeClaim => {
      try {
        return this.getClaimFromVolumeSnapshot(snapshot);
      } catch {
        throw new ControllerUpdateError(snapshot.metadata.name ?? '', 'cannot get claim from snapshot');
      }
    };
    const cached = claim();
    if (hasFinalizer(cached, PVCAsSourceFinalizer)) return;
    const { namespace = '', name = '' } = cached.metadata;
    await this.oneClaimFinalizerDecisionAtATime(namespace, name, async () => {
      const pvc = claim();
      if (hasFinalizer(pvc, PVCAsSourceFinalizer)) return;
      if (pvc.metadata.deletionTimestamp) throw new ControllerUpdateError(name, 'cannot add finalizer on claim because it is being deleted');
      try {
        await writeFinalizers(pvc, () => this.api.getClaim(namespace, name), (p) => this.api.patchClaim(namespace, name, p), adding(PVCAsSourceFinalizer));
      } catch (err) {
        throw new ControllerUpdateError(name, errorText(err));
      }
    });
  }

  /** Removes the PVC's pvc-as-source-protection once no snapshot (other than this one, when asked) is still being cut from it. */
  private async checkandRemovePVCFinalizer(snapshot: VolumeSnapshot, skipCurrentSnapshot: boolean): Promise<void> {
    const pvcName = snapshot.spec.source.persistentVolumeClaimName;
    if (!pvcName) return;
    const namespace = snapshot.metadata.namespace ?? '';
    const removable = (): PersistentVolumeClaim | undefined => {
      const pvc = this.listers.getClaim(namespace, pvcName);
      if (!pvc || !hasFinalizer(pvc, PVCAsSourceFinalizer)) return undefined;
      const inUse = this.listers
        .snapshotsOfClaim(namespace, pvcName)
        .some((s) => !(skipCurrentSnapshot && s.metadata.name === snapshot.metadata.name) && !isSnapshotReady(s));
      return inUse ? undefined : pvc;
    };
    if (!removable()) return;
    await this.oneClaimFinalizerDecisionAtATime(namespace, pvcName, async () => {
      const pvc = removable();
      if (!pvc) return;
      try {
        await writeFinalizers(pvc, () => this.api.getClaim(namespace, pvcName), (p) => this.api.patchClaim(namespace, pvcName, p), removing(PVCAsSourceFinalizer));
      } catch (err) {
        throw new ControllerUpdateError(pvcName, errorText(err));
      }
    });
  }

  // ---------------------------------------------------------------- metrics helpers

  private snapshotType(snapshot: VolumeSnapshot): SnapshotType {
    return snapshot.spec.source.volumeSnapshotContentName ? 'pre-provisioned' : 'dynamic';
  }

  private snapshotDriverName(snapshot: VolumeSnapshot): string {
    const contentName = snapshot.spec.source.volumeSnapshotContentName;
    const fromContent = contentName ? this.listers.getContent(contentName)?.spec.driver : undefined;
    if (fromContent) return fromContent;
    const className = snapshot.spec.volumeSnapshotClassName;
    return (className && this.listers.getClass(className)?.driver) || '';
  }
}

function isZeroQuantity(q: string | undefined): boolean {
  return q !== undefined && /^[+]?0+(\.0*)?[a-zA-Z]*$/.test(q);
}

/** A merge patch turning status `old` into `next` (null deletes), or undefined when nothing changes. */
function statusPatch(old: SnapshotStatus, next: SnapshotStatus): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]) as Set<keyof SnapshotStatus>;
  for (const k of keys) if (!deepEqual(old[k], next[k])) patch[k] = next[k] ?? null;
  return Object.keys(patch).length ? patch : undefined;
}
