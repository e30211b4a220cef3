// The controller manager: Strata's storage controllers in one process, sharing one set of informers — the PV binder
// with pvc/pv-protection (kube-controller-manager), the CSI provisioner with its capacity publisher
// (external-provisioner), the snapshot controller (external-snapshotter's common controller) and the csi-snapshotter
// sidecar for the driver. With leader election only the holder of kube-system/strata-controller-manager runs them.
import { hostname } from 'node:os';
import type { Logger as PinoLogger } from 'pino';
import type { Registry } from 'prom-client';
import type { CSIDriver } from '../api/types.ts';
import { isAlreadyExists } from '../client/errors.ts';
import { EventRecorder } from '../client/events.ts';
import { SharedInformerFactory } from '../client/informer.ts';
import { runLeaderElection } from '../client/leader-election.ts';
import type { Logger } from '../client/logger.ts';
import { defaultLogger } from '../client/logger.ts';
import { Resources } from '../client/resources.ts';
import type { KubeClient } from '../client/rest.ts';
import { connectCsi } from '../csi/grpc.ts';
import type { CsiClient } from '../csi/grpc.ts';
import { ProvisionerController } from './provisioner/controller.ts';
import { csiControllerClient, probeDriver } from './provisioner/csi-adapter.ts';
import type { DriverInfo } from './provisioner/csi-adapter.ts';
import { PersistentVolumeController, ProtectionController } from './pv-binder/controller.ts';
import { SnapshotController } from './snapshot/controller.ts';
import { SnapshotterController } from './snapshotter/controller.ts';
import { DefaultBinderClaimWorkers } from './defaults.ts';

export const LeaseNamespace = 'kube-system';
export const LeaseName = 'strata-controller-manager';

export interface ControllerManagerOptions {
  client: KubeClient;
  /** The CSI driver's controller endpoint, unix://PATH. */
  csiEndpoint: string;
  /** Defaults to the driver's GetPluginInfo name. */
  driverName?: string;
  signal?: AbortSignal;
  leaderElection?: boolean;
  /** The Lease holder identity; defaults to hostname_uuid as kube-controller-manager's. */
  identity?: string;
  metricsRegistry?: Registry;
  /** Claim workers of the PV binder (DefaultBinderClaimWorkers; 1 is upstream's wiring). */
  binderClaimWorkers?: number;
  logger?: PinoLogger;
}

export interface RunningControllerManager {
  /** Resolves when the controllers have stopped: close(), the signal, or (with leader election) lost leadership. */
  readonly stopped: Promise<void>;
  close(): Promise<void>;
}

/**
 * The CSIDriver object upstream's deployment manifest installs with a driver: Strata's driver needs no attach,
 * publishes storage capacity and wants no pod info on mount. Created when missing; an existing one is left alone.
 */
export async function ensureCsiDriverObject(client: KubeClient, driverName: string): Promise<void> {
  const driver: CSIDriver = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSIDriver',
    metadata: { name: driverName },
    spec: { attachRequired: false, storageCapacity: true, podInfoOnMount: false },
  };
  try {
    await client.resource(Resources.csiDrivers).create(driver);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Builds every controller on one informer factory, starts it and runs them until the signal aborts. */
async function runControllers(o: ControllerManagerOptions, csi: CsiClient, driver: DriverInfo, logger: Logger, signal: AbortSignal): Promise<void> {
  const { client } = o;
  const informers = new SharedInformerFactory(client, { logger });
  const controllers: Array<{ run(signal: AbortSignal): Promise<void> }> = [
    new PersistentVolumeController({ client, informers, logger, claimWorkers: o.binderClaimWorkers ?? DefaultBinderClaimWorkers }),
    new ProtectionController({ client, informers, logger }),
    new ProvisionerController({ client, informers, csi: csiControllerClient(csi), driverName: driver.name, capabilities: driver.capabilities, logger }),
    new SnapshotController({ client, informers, registry: o.metricsRegistry, logger }),
  ];
  // The snapshotter sidecar is deployed only with drivers that take snapshots.
  if (driver.capabilities.snapshot) controllers.push(new SnapshotterController({ client, csi, driverName: driver.name, informers, logger }));
  informers.start();
  try {
    await Promise.all(controllers.map((c) => c.run(signal)));
  } finally {
    informers.shutdown();
  }
}

export async function startControllerManager(o: ControllerManagerOptions): Promise<RunningControllerManager> {
  const logger: Logger = o.logger ?? defaultLogger;
  const abort = new AbortController();
  const onAbort = (): void => abort.abort();
  if (o.signal?.aborted) abort.abort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  const csi = connectCsi(o.csiEndpoint);
  let stopped: Promise<void>;
  try {
    const probed = await probeDriver(csi, abort.signal);
    const driver: DriverInfo = { ...probed, name: o.driverName ?? probed.name };
    await ensureCsiDriverObject(o.client, driver.name);
    if (!o.leaderElection) {
      stopped = runControllers(o, csi, driver, logger, abort.signal);
    } else {
      const recorder = new EventRecorder(o.client, { component: LeaseName, logger });
      let leading: Promise<void> = Promise.resolve();
      stopped = runLeaderElection({
        client: o.client,
        namespace: LeaseNamespace,
        name: LeaseName,
        identity: o.identity ?? `${hostname()}_${crypto.randomUUID()}`,
        signal: abort.signal,
        eventRecorder: recorder,
        logger,
        onStartedLeading: (leaderSignal) => {
          leading = runControllers(o, csi, driver, logger, leaderSignal);
          return leading;
        },
        onStoppedLeading: () => logger.info({ lease: `${LeaseNamespace}/${LeaseName}` }, 'leaderelection lost'),
      }).then(() => leading).finally(() => recorder.close());
    }
  } catch (err) {
    csi.close();
    o.signal?.removeEventListener('abort', onAbort);
    throw err;
  }
  stopped = stopped.finally(() => {
    csi.close();
    o.signal?.removeEventListener('abort', onAbort);
  });
  return {
    stopped,
    async close() {
      abort.abort();
      await stopped;
    },
  };
}
