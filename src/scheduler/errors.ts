// Errors of the scheduler, with upstream's messages.
import type { Diagnosis } from './framework/interfaces.ts';
import { fitErrorMessage } from './framework/fit-error.ts';

/** ErrNoNodesAvailable: the cluster has no nodes at all. */
export class NoNodesAvailableError extends Error {
  override name = 'NoNodesAvailableError';
  constructor() {
    super('no nodes available to schedule pods');
  }
}

/** framework.FitError: no node passed the filters. Not thrown; the text is built when asked, after PostFilter ran. */
export class FitError {
  readonly numAllNodes: number;
  readonly diagnosis: Diagnosis;
  constructor(numAllNodes: number, diagnosis: Diagnosis) {
    this.numAllNodes = numAllNodes;
    this.diagnosis = diagnosis;
  }
  get message(): string {
    return fitErrorMessage(this.numAllNodes, this.diagnosis);
  }
}

/** The assume cache has no object of that name (errNotFound). */
export class AssumeCacheNotFoundError extends Error {
  override name = 'AssumeCacheNotFoundError';
  constructor(description: string, objectName: string) {
    super(`could not find ${description} ${JSON.stringify(objectName)}`);
  }
}

/** The assumed object is older than the one the cache holds. */
export class AssumeCacheOutOfSyncError extends Error {
  override name = 'AssumeCacheOutOfSyncError';
  constructor(description: string, objectName: string, stored: bigint, assumed: bigint) {
    super(`${description} ${JSON.stringify(objectName)} is out of sync (stored: ${stored}, assume: ${assumed})`);
  }
}

/** A resourceVersion that is not an integer (getObjVersion). */
export class ResourceVersionParseError extends Error {
  override name = 'ResourceVersionParseError';
  constructor(resourceVersion: string, description: string, objectName: string) {
    super(`error parsing ResourceVersion ${JSON.stringify(resourceVersion)} for ${description} ${JSON.stringify(objectName)}: invalid syntax`);
  }
}
