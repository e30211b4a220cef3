// The Kubernetes client every Strata component uses: import from here.
export { KubeClient, ResourceClient, apiVersionOf } from './rest.ts';
export type {
  DeleteOptions, KubeClientOptions, ListOptions, ObjectList, PatchOptions, PatchType, ResourceType, WatchEventType, WatchHandle, WatchOptions, WriteOptions,
} from './rest.ts';
export { Resources } from './resources.ts';
export type { Lease, Namespace, VolumeAttachment } from './resources.ts';
export {
  ApiError, IndexerError, LeaderElectionConfigError, RequestConstructionError, isAlreadyExists, isConflict, isGone, isInvalid, isNotFound,
} from './errors.ts';
export { Indexer, NAMESPACE_INDEX, objectKey, splitKey } from './cache.ts';
export type { IndexFunc } from './cache.ts';
export { Informer, SharedInformerFactory, waitForCacheSync } from './informer.ts';
export type { AddHandler, DeleteHandler, InformerOptions, InformerSelector, UpdateHandler } from './informer.ts';
export { RateLimitingQueue, runWorkers } from './workqueue.ts';
export {
  BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, TokenBucket, defaultControllerRateLimiter, sidecarRateLimiter,
} from './rate-limiter.ts';
export type { RateLimiter } from './rate-limiter.ts';
export { EventCorrelator, EventRecorder, objectReference } from './events.ts';
export type { EventRecorderOptions, EventType } from './events.ts';
export { runLeaderElection } from './leader-election.ts';
export type { LeaderElectionOptions } from './leader-election.ts';
export { Controller } from './controller.ts';
export { LatestObjects } from './latest-objects.ts';
export type { ControllerOptions } from './controller.ts';
export { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
export type { KubeconfigOptions } from './kubeconfig.ts';
export type { Logger } from './logger.ts';
