// The Strata CSI driver, csi.strata.io: Identity always, plus Controller and/or Node services by mode.
import pino from 'pino';
import type { ClusterSpec } from '../api/cluster.ts';
import { createCsiServer } from '../csi/grpc.ts';
import type { IdentityRpcs, PluginCapability, ServiceImpl } from '../csi/types.ts';
import { ControllerService } from './controller.ts';
import { DataDir, resumeAbandonedFreezes } from './files.ts';
import { NodeService } from './node.ts';
import { DriverStore } from './store.ts';

export const DriverName = 'csi.strata.io';
export const DriverVersion = '0.1.0';

export type DriverMode = 'controller' | 'node' | 'all';

export interface CsiDriverOptions {
  endpoint: string;
  nodeId?: string;
  mode: DriverMode;
  dataDir: string;
  cluster: ClusterSpec;
  log?: pino.Logger;
}

export interface RunningCsiDriver {
  endpoint: string;
  close(): Promise<void>;
}

export async function startCsiDriver(opts: CsiDriverOptions): Promise<RunningCsiDriver> {
  const log = opts.log ?? pino({ level: 'silent' });
  const serveController = opts.mode !== 'node';
  const serveNode = opts.mode !== 'controller';
  const node = serveNode ? opts.cluster.nodes.find((n) => n.name === opts.nodeId) : undefined;
  if (serveNode && !node) {
    throw new Error(`--node-id ${JSON.stringify(opts.nodeId ?? '')} names no node of cluster ${opts.cluster.name} (${opts.cluster.nodes.map((n) => n.name).join(', ')})`);
  }
  const dirs = new DataDir(opts.dataDir);
  const store = new DriverStore(opts.dataDir);
  await dirs.prepare();
  // Writers that a driver killed in the middle of a point-in-time copy left stopped run again.
  const resumed = await resumeAbandonedFreezes(dirs);
  if (resumed > 0) log.warn({ resumed }, 'resumed processes that a driver stopped for a snapshot and did not resume before it ended');

  const capabilities: PluginCapability[] = [{ service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } }];
  if (serveController) capabilities.unshift({ service: { type: 'CONTROLLER_SERVICE' } }, { volume_expansion: { type: 'ONLINE' } });
  const identity: ServiceImpl<IdentityRpcs> = {
    GetPluginInfo: async () => ({ name: DriverName, vendor_version: DriverVersion }),
    GetPluginCapabilities: async () => ({ capabilities }),
    Probe: async () => ({ ready: { value: true } }),
  };
  const server = await createCsiServer(opts.endpoint, {
    identity,
    controller: serveController ? logged(new ControllerService(opts.cluster, store, dirs), log) : undefined,
    node: node ? logged(new NodeService(opts.cluster, node, store, dirs), log) : undefined,
  });
  log.info({ endpoint: server.endpoint, mode: opts.mode, node: opts.nodeId }, 'CSI driver listening');
  return {
    endpoint: server.endpoint,
    async close() {
      await server.close();
      store.close();
    },
  };
}

// Wraps each RPC method of a service with a log line per call (secrets never logged: only the method and outcome).
function logged<T extends object>(service: T, log: pino.Logger): T {
  const wrapped: Record<string, unknown> = {};
  for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(service))) {
    const fn = (service as Record<string, unknown>)[method];
    if (method === 'constructor' || typeof fn !== 'function' || !/^[A-Z]/.test(method)) continue;
    wrapped[method] = async (req: unknown) => {
      try {
        const res = await fn.call(service, req);
        log.debug({ method }, 'CSI call succeeded');
        return res;
      } catch (err) {
        log.info({ method, err: (err as Error).message }, 'CSI call failed');
        throw err;
      }
    };
  }
  return wrapped as T;
}
