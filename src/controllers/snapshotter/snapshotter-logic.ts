// The level-triggered sync logic of the csi-snapshotter sidecar, mirroring external-snapshotter's
// pkg/sidecar-controller/snapshot_controller.go and csi_handler.go: CreateSnapshot for dynamic contents (named
// `snapshot-<VolumeSnapshot UID>`, so a retry after a crash finds the same backend snapshot), the being-created
// annotation around the call, re-calling CreateSnapshot until the snapshot is ready, ListSnapshots for pre-provisioned
// contents, DeleteSnapshot on deletion, and the content's status. It writes only the content (its status through
// /status, its metadata as merge patches) and only what changes. controller.ts wires it to informers and a queue.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { metaTime } from '../../api/time.ts';
import type { VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import { CsiError } from '../../csi/errors.ts';
import { ControllerUpdateError, SnapshotSyncError } from '../snapshot/errors.ts';
import type { EventRecorder, EventType } from '../snapshot/snapshot-logic.ts';
import { writeFinalizers } from '../snapshot/snapshot-logic.ts';
import {
  AnnDeletionSecretRefName,
  AnnDeletionSecretRefNamespace,
  AnnVolumeSnapshotBeingCreated,
  AnnVolumeSnapshotBeingDeleted,
  DefaultSnapshotNamePrefix,
  PrefixedVolumeSnapshotContentNameKey,
  PrefixedVolumeSnapshotNameKey,
  PrefixedVolumeSnapshotNamespaceKey,
  SnapshotAPIGroup,
  SnapshotterListSecretParams,
  VolumeSnapshotContentFinalizer,
  contentIsReady,
  deepEqual,
  errorText,
  getSecretReference,
  goQuote,
  hasAnnotation,
  removePrefixedParameters,
} from '../snapshot/utils.ts';

export type { EventRecorder, EventType };

/** A snapshot as the CSI driver reports it. */
export interface CsiSnapshot {
  snapshotId: string;
  sourceVolumeId: string;
  /** Nanoseconds since the epoch; 0 when the driver did not say. */
  creationTimeNs: number;
  /** 0 when unknown. */
  sizeBytes: number;
  readyToUse: boolean;
}

/** The CSI calls the sidecar makes. Failures carry the gRPC status code (CsiError). */
export interface CsiSnapshotClient {
  createSnapshot(req: { name: string; sourceVolumeId: string; parameters: Record<string, string>; secrets?: Record<string, string> }): Promise<CsiSnapshot>;
  deleteSnapshot(req: { snapshotId: string; secrets?: Record<string, string> }): Promise<void>;
  listSnapshots(req: { snapshotId: string; secrets?: Record<string, string> }): Promise<CsiSnapshot[]>;
}

export interface SnapshotterListers {
  getClass(name: string): VolumeSnapshotClass | undefined;
}

/** Write side: each call returns the content as stored. Patches are JSON merge patches. */
export interface SnapshotterApi {
  getContent(name: string): Promise<VolumeSnapshotContent>;
  patchContent(name: string, patch: object): Promise<VolumeSnapshotContent>;
  patchContentStatus(name: string, patch: object): Promise<VolumeSnapshotContent>;
  /** A Secret's data, decoded. */
  getSecretData(namespace: string, name: string): Promise<Record<string, string>>;
}

export interface SnapshotterSyncDeps {
  driverName: string;
  listers: SnapshotterListers;
  api: SnapshotterApi;
  csi: CsiSnapshotClient;
  recorder: EventRecorder;
  /** The driver has the LIST_SNAPSHOTS capability; without it a pre-provisioned snapshot is assumed ready. */
  listSnapshotsSupported: boolean;
  /** --extra-create-metadata: pass the VolumeSnapshot's and content's names as parameters. */
  extraCreateMetadata?: boolean;
  /** --snapshot-name-prefix (default "snapshot"). */
  snapshotNamePrefix?: string;
}

type ContentStatus = NonNullable<VolumeSnapshotContent['status']>;

const grpcCodeNames: Record<number, string> = {
  [GrpcStatus.OK]: 'OK',
  [GrpcStatus.CANCELLED]: 'Canceled',
  [GrpcStatus.UNKNOWN]: 'Unknown',
  [GrpcStatus.INVALID_ARGUMENT]: 'InvalidArgument',
  [GrpcStatus.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [GrpcStatus.NOT_FOUND]: 'NotFound',
  [GrpcStatus.ALREADY_EXISTS]: 'AlreadyExists',
  [GrpcStatus.PERMISSION_DENIED]: 'PermissionDenied',
  [GrpcStatus.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [GrpcStatus.FAILED_PRECONDITION]: 'FailedPrecondition',
  [GrpcStatus.ABORTED]: 'Aborted',
  [GrpcStatus.OUT_OF_RANGE]: 'OutOfRange',
  [GrpcStatus.UNIMPLEMENTED]: 'Unimplemented',
  [GrpcStatus.INTERNAL]: 'Internal',
  [GrpcStatus.UNAVAILABLE]: 'Unavailable',
  [GrpcStatus.DATA_LOSS]: 'DataLoss',
  [GrpcStatus.UNAUTHENTICATED]: 'Unauthenticated',
};

/** An error as grpc-go prints it: "rpc error: code = Internal desc = …". */
export function csiErrorText(err: unknown): string {
  if (err instanceof CsiError) return `rpc error: code = ${grpcCodeNames[err.code] ?? err.code} desc = ${err.details}`;
  return errorText(err);
}

/**
 * isCSIFinalError: whether CreateSnapshot certainly is not in progress any more. Timeouts, cancellation, an unreachable
 * driver, exhausted resources and Aborted (operation pending) may leave it running; errors that are not gRPC errors
 * happened before the call and cannot tell either.
 */
export function isCsiFinalError(err: unknown): boolean {
  if (!(err instanceof CsiError)) return false;
  return ![GrpcStatus.CANCELLED, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.UNAVAILABLE, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.ABORTED].includes(err.code);
}

/** makeSnapshotName: `<prefix>-<VolumeSnapshot UID>`. */
export function makeSnapshotName(prefix: string, snapshotUid: string): string {
  if (!snapshotUid) throw new SnapshotSyncError('Corrupted snapshot object, it is missing UID');
  return `${prefix}-${snapshotUid}`;
}

export class SnapshotterSyncLogic {
  private readonly deps: SnapshotterSyncDeps;
  private readonly api: SnapshotterApi;
  private readonly recorder: EventRecorder;

  constructor(deps: SnapshotterSyncDeps) {
    this.deps = deps;
    this.api = deps.api;
    this.recorder = deps.recorder;
  }

  /** isDriverMatch: the content has a source and belongs to this driver (by its driver and its class's). */
  isDriverMatch(content: VolumeSnapshotContent): boolean {
    const source = content.spec.source ?? {};
    if (!source.volumeHandle && !source.snapshotHandle) return false;
    if (content.spec.driver !== this.deps.driverName) return false;
    const className = content.spec.volumeSnapshotClassName;
    const cls = className ? this.deps.listers.getClass(className) : undefined;
    return !cls || cls.driver === this.deps.driverName;
  }

  /** syncContent: one pass over a content of this driver. Resolves to whether it should be looked at again (with backoff). */
  async syncContent(content: VolumeSnapshotContent): Promise<boolean> {
    if (this.shouldDelete(content)) {
      const status = content.status;
      if (content.spec.deletionPolicy === 'Delete' && status?.snapshotHandle && !status.volumeGroupSnapshotHandle) {
        // The finalizer stays until the backend snapshot is gone, so nothing leaks.
        const cleared = await this.deleteCSISnapshot(content);
        return this.syncContent(cleared);
      }
      await this.removeContentFinalizer(content);
      return false;
    }
    if (content.spec.source.volumeHandle && !content.status) return this.createSnapshot(content);
    // Once ready, CreateSnapshot / ListSnapshots are not called again.
    if (contentIsReady(content)) {
      await this.removeAnnVolumeSnapshotBeingCreated(content);
      return false;
    }
    return this.checkandUpdateContentStatus(content);
  }

  /** shouldDelete: the content is being deleted and the backend snapshot may go (never while CreateSnapshot may still run). */
  shouldDelete(content: VolumeSnapshotContent): boolean {
    if (!content.metadata.deletionTimestamp) return false;
    if (content.spec.source.snapshotHandle && !content.spec.volumeSnapshotRef.uid) return true;
    if (hasAnnotation(content, AnnVolumeSnapshotBeingCreated)) return false;
    return hasAnnotation(content, AnnVolumeSnapshotBeingDeleted);
  }

  // ---------------------------------------------------------------- create

  private async createSnapshot(content: VolumeSnapshotContent): Promise<boolean> {
    const latest = { content };
    try {
      await this.createSnapshotWrapper(latest);
    } catch (err) {
      await this.updateContentErrorStatusWithEvent(latest.content, 'Warning', 'SnapshotCreationFailed', `Failed to create snapshot: ${errorText(err)}`).catch(() => undefined);
      throw err;
    }
    return !contentIsReady(latest.content);
  }

  private async checkandUpdateContentStatus(content: VolumeSnapshotContent): Promise<boolean> {
    const latest = { content };
    try {
      await this.checkandUpdateContentStatusOperation(latest);
    } catch (err) {
      await this.updateContentErrorStatusWithEvent(
        latest.content, 'Warning', 'SnapshotContentCheckandUpdateFailed', `Failed to check and update snapshot content: ${errorText(err)}`,
      ).catch(() => undefined);
      throw err;
    }
    return !contentIsReady(latest.content);
  }

  private async checkandUpdateContentStatusOperation(latest: { content: VolumeSnapshotContent }): Promise<void> {
    const content = latest.content;
    const name = content.metadata.name ?? '';
    const snapshotHandle = content.spec.source.snapshotHandle;
    if (!snapshotHandle) {
      await this.createSnapshotWrapper(latest);
      return;
    }
    let listCredentials: Record<string, string> | undefined;
    const className = content.spec.volumeSnapshotClassName;
    if (className !== undefined) {
      const cls = this.deps.listers.getClass(className);
      if (!cls) {
        throw new SnapshotSyncError(
          `failed to get snapshot class ${className} for snapshot content ${name}: volumesnapshotclass.${SnapshotAPIGroup} ${goQuote(className)} not found`,
        );
      }
      let ref;
      try {
        ref = getSecretReference(SnapshotterListSecretParams, cls.parameters, name, undefined);
      } catch (err) {
        throw new SnapshotSyncError(`failed to get secret reference for snapshot content ${name}: ${errorText(err)}`);
      }
      if (ref) {
        try {
          listCredentials = await this.api.getSecretData(ref.namespace, ref.name);
        } catch (err) {
          throw new SnapshotSyncError(
            `failed to get credentials for snapshot content ${name}: error getting secret ${ref.name} in namespace ${ref.namespace}: ${errorText(err)}`,
          );
        }
      }
    }
    const found = await this.getSnapshotStatus(content, listCredentials);
    latest.content = await this.updateSnapshotContentStatus(content, snapshotHandle, found.readyToUse, found.creationTimeNs || Date.now() * 1e6, found.sizeBytes);
  }

  /** GetSnapshotStatus through ListSnapshots by snapshot id. */
  private async getSnapshotStatus(content: VolumeSnapshotContent, secrets: Record<string, string> | undefined): Promise<CsiSnapshot> {
    const name = content.metadata.name ?? '';
    const snapshotId = content.status?.snapshotHandle ?? content.spec.source.snapshotHandle ?? '';
    if (!snapshotId) throw new SnapshotSyncError(`failed to list snapshot for content ${name}: snapshotHandle is missing`);
    if (!this.deps.listSnapshotsSupported) return { snapshotId, sourceVolumeId: '', creationTimeNs: 0, sizeBytes: 0, readyToUse: true };
    let entries: CsiSnapshot[];
    try {
      entries = await this.deps.csi.listSnapshots({ snapshotId, ...(secrets ? { secrets } : {}) });
    } catch (err) {
      throw new SnapshotSyncError(`failed to list snapshot for content ${name}: ${goQuote(csiErrorText(err))}`);
    }
    if (entries.length === 0) {
      throw new SnapshotSyncError(`failed to list snapshot for content ${name}: ${goQuote(`can not find snapshot for snapshotID ${snapshotId}`)}`);
    }
    return entries[0]!;
  }

  /** createSnapshotWrapper; `latest` follows every write so a failure reports on the newest content. */
  private async createSnapshotWrapper(latest: { content: VolumeSnapshotContent }): Promise<void> {
    const name = latest.content.metadata.name ?? '';
    let cls: VolumeSnapshotClass | undefined;
    let credentials: Record<string, string> | undefined;
    try {
      cls = this.getSnapshotClassForCreate(latest.content);
      credentials = await this.getCredentialsFromAnnotation(latest.content);
    } catch (err) {
      throw new SnapshotSyncError(`failed to get input parameters to create snapshot for content ${name}: ${goQuote(errorText(err))}`);
    }
    // The annotation says a CreateSnapshot may be running on the storage system: the content is not deleted while
    // it is set, so a snapshot cut by a call whose answer was lost is never leaked.
    try {
      latest.content = await this.setAnnVolumeSnapshotBeingCreated(latest.content);
    } catch (err) {
      throw new SnapshotSyncError(`failed to add VolumeSnapshotBeingCreated annotation on the content ${name}: ${goQuote(errorText(err))}`);
    }
    let parameters: Record<string, string>;
    try {
      parameters = removePrefixedParameters(cls?.parameters);
    } catch (err) {
      throw new SnapshotSyncError(`failed to remove CSI Parameters of prefixed keys: ${errorText(err)}`);
    }
    const content = latest.content;
    if (this.deps.extraCreateMetadata) {
      parameters[PrefixedVolumeSnapshotNameKey] = content.spec.volumeSnapshotRef.name ?? '';
      parameters[PrefixedVolumeSnapshotNamespaceKey] = content.spec.volumeSnapshotRef.namespace ?? '';
      parameters[PrefixedVolumeSnapshotContentNameKey] = name;
    }
    let created: CsiSnapshot;
    try {
      created = await this.callCreateSnapshot(content, parameters, credentials);
    } catch (err) {
      if (isCsiFinalError(err)) {
        try {
          latest.content = await this.removeAnnVolumeSnapshotBeingCreated(latest.content);
        } catch (removeErr) {
          throw new SnapshotSyncError(`failed to remove VolumeSnapshotBeingCreated annotation from the content ${name}: ${errorText(removeErr)}`);
        }
      }
      throw new SnapshotSyncError(`failed to take snapshot of the volume ${content.spec.source.volumeHandle}: ${goQuote(csiErrorText(err))}`);
    }
    try {
      latest.content = await this.updateSnapshotContentStatus(
        latest.content, created.snapshotId, created.readyToUse, created.creationTimeNs || Date.now() * 1e6, created.sizeBytes,
      );
    } catch (err) {
      throw new SnapshotSyncError(`error updating status for volume snapshot content ${name}: ${errorText(err)}`);
    }
    try {
      latest.content = await this.removeAnnVolumeSnapshotBeingCreated(latest.content);
    } catch (err) {
      throw new SnapshotSyncError(`failed to remove VolumeSnapshotBeingCreated annotation on the content ${name}: ${goQuote(errorText(err))}`);
    }
  }

  /** csiHandler.CreateSnapshot. */
  private callCreateSnapshot(content: VolumeSnapshotContent, parameters: Record<string, string>, secrets: Record<string, string> | undefined): Promise<CsiSnapshot> {
    const name = content.metadata.name ?? '';
    const uid = content.spec.volumeSnapshotRef.uid;
    if (!uid) throw new SnapshotSyncError(`cannot create snapshot. Snapshot content ${name} not bound to a snapshot`);
    const volumeHandle = content.spec.source.volumeHandle;
    if (!volumeHandle) throw new SnapshotSyncError(`cannot create snapshot. Volume handle not found in snapshot content ${name}`);
    const snapshotName = makeSnapshotName(this.deps.snapshotNamePrefix ?? DefaultSnapshotNamePrefix, uid);
    return this.deps.csi.createSnapshot({ name: snapshotName, sourceVolumeId: volumeHandle, parameters, ...(secrets ? { secrets } : {}) });
  }

  /** getCSISnapshotInput's class: required for a dynamic content. */
  private getSnapshotClassForCreate(content: VolumeSnapshotContent): VolumeSnapshotClass | undefined {
    const className = content.spec.volumeSnapshotClassName;
    if (className === undefined) {
      if (content.spec.source.volumeHandle) throw new SnapshotSyncError(`failed to take snapshot ${content.metadata.name} without a snapshot class`);
      return undefined;
    }
    const cls = this.deps.listers.getClass(className);
    if (!cls) throw new SnapshotSyncError(`volumesnapshotclass.${SnapshotAPIGroup} ${goQuote(className)} not found`);
    return cls;
  }

  /** Snapshotter credentials named by the content's deletion-secret annotations (set from the class at creation). */
  private async getCredentialsFromAnnotation(content: VolumeSnapshotContent): Promise<Record<string, string> | undefined> {
    if (!hasAnnotation(content, AnnDeletionSecretRefName) || !hasAnnotation(content, AnnDeletionSecretRefNamespace)) return undefined;
    const name = content.metadata.annotations![AnnDeletionSecretRefName]!;
    const namespace = content.metadata.annotations![AnnDeletionSecretRefNamespace]!;
    if (!name || !namespace) {
      throw new SnapshotSyncError(`cannot retrieve secrets for snapshot content ${goQuote(content.metadata.name ?? '')}, err: secret name or namespace not specified`);
    }
    try {
      return await this.api.getSecretData(namespace, name);
    } catch {
      throw new SnapshotSyncError(`cannot get credentials for snapshot content ${goQuote(content.metadata.name ?? '')}`);
    }
  }

  /** updateSnapshotContentStatus: fills in what the driver reported, writing only the fields that change. */
  private async updateSnapshotContentStatus(
    content: VolumeSnapshotContent,
    snapshotHandle: string,
    readyToUse: boolean,
    createdAtNs: number,
    size: number,
  ): Promise<VolumeSnapshotContent> {
    const old = content.status;
    let next: ContentStatus;
    if (!old) {
      next = { snapshotHandle, readyToUse, creationTime: createdAtNs };
      if (size > 0) next.restoreSize = size;
    } else {
      next = { ...old };
      next.snapshotHandle ??= snapshotHandle;
      if (next.readyToUse !== readyToUse) {
        next.readyToUse = readyToUse;
        if (readyToUse) delete next.error;
      }
      next.creationTime ??= createdAtNs;
      if (next.restoreSize === undefined && size > 0) next.restoreSize = size;
    }
    const patch: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(old ?? {}), ...Object.keys(next)]) as Set<keyof ContentStatus>) {
      if (!deepEqual(old?.[k], next[k])) patch[k] = next[k] ?? null;
    }
    if (Object.keys(patch).length === 0) return content;
    const name = content.metadata.name ?? '';
    try {
      return await this.api.patchContentStatus(name, { status: patch });
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  /** Records an error in the content's status (readyToUse false) and emits the event, unless the message is already recorded. */
  private async updateContentErrorStatusWithEvent(content: VolumeSnapshotContent, type: EventType, reason: string, message: string): Promise<void> {
    if (content.status?.error?.message === message) return;
    try {
      await this.api.patchContentStatus(content.metadata.name ?? '', { status: { error: { time: metaTime(), message }, readyToUse: false } });
    } finally {
      this.recorder.event(content, type, reason, message);
    }
  }

  // ---------------------------------------------------------------- delete

  /** deleteCSISnapshotOperation: DeleteSnapshot, then clear the snapshot fields of the status. Returns the content as stored. */
  private async deleteCSISnapshot(content: VolumeSnapshotContent): Promise<VolumeSnapshotContent> {
    const name = content.metadata.name ?? '';
    let credentials: Record<string, string> | undefined;
    try {
      credentials = await this.getCredentialsFromAnnotation(content);
    } catch (err) {
      this.recorder.event(content, 'Warning', 'SnapshotDeleteError', 'Failed to get snapshot credentials');
      throw new SnapshotSyncError(`failed to get input parameters to delete snapshot for content ${name}: ${goQuote(errorText(err))}`);
    }
    const snapshotId = content.status?.snapshotHandle ?? content.spec.source.snapshotHandle;
    try {
      if (!snapshotId) throw new SnapshotSyncError(`failed to delete snapshot content ${name}: snapshotHandle is missing`);
      try {
        await this.deps.csi.deleteSnapshot({ snapshotId, ...(credentials ? { secrets: credentials } : {}) });
      } catch (err) {
        throw new SnapshotSyncError(`failed to delete snapshot content ${name}: ${goQuote(csiErrorText(err))}`);
      }
    } catch (err) {
      this.recorder.event(content, 'Warning', 'SnapshotDeleteError', 'Failed to delete snapshot');
      throw new SnapshotSyncError(`failed to delete snapshot ${goQuote(name)}, err: ${errorText(err)}`);
    }
    try {
      return await this.api.patchContentStatus(name, { status: { snapshotHandle: null, readyToUse: null, creationTime: null, restoreSize: null } });
    } catch (err) {
      this.recorder.event(content, 'Warning', 'SnapshotDeleteError', 'Failed to clear content status');
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  private async removeContentFinalizer(content: VolumeSnapshotContent): Promise<void> {
    const name = content.metadata.name ?? '';
    try {
      await writeFinalizers(
        content,
        () => this.api.getContent(name),
        (p) => this.api.patchContent(name, p),
        (list) => (list.includes(VolumeSnapshotContentFinalizer) ? list.filter((f) => f !== VolumeSnapshotContentFinalizer) : undefined),
      );
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  // ---------------------------------------------------------------- annotations

  private async setAnnVolumeSnapshotBeingCreated(content: VolumeSnapshotContent): Promise<VolumeSnapshotContent> {
    if (hasAnnotation(content, AnnVolumeSnapshotBeingCreated)) return content;
    const name = content.metadata.name ?? '';
    try {
      return await this.api.patchContent(name, { metadata: { annotations: { [AnnVolumeSnapshotBeingCreated]: 'yes' } } });
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }

  private async removeAnnVolumeSnapshotBeingCreated(content: VolumeSnapshotContent): Promise<VolumeSnapshotContent> {
    if (!hasAnnotation(content, AnnVolumeSnapshotBeingCreated)) return content;
    const name = content.metadata.name ?? '';
    try {
      return await this.api.patchContent(name, { metadata: { annotations: { [AnnVolumeSnapshotBeingCreated]: null } } });
    } catch (err) {
      throw new ControllerUpdateError(name, errorText(err));
    }
  }
}
