// CSI over gRPC on unix sockets: the vendored csi.proto loaded once, a server that hosts any subset of the CSI
// services, and a client with one promise-returning method per RPC.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { chmodSync, lstatSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsiError } from './errors.ts';
import { createVolumeRequestDeserializer, createVolumeRequestSerializer } from './topology-wire.ts';
import type { ControllerRpcs, GroupControllerRpcs, IdentityRpcs, NodeRpcs, ServiceImpl } from './types.ts';

const protoPath = fileURLToPath(new URL('./proto/csi.proto', import.meta.url));

// snake_case names as in the spec; int64 as decimal strings so capacities above 2^53 stay exact.
const loaderOptions: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

type CsiServiceName = 'Identity' | 'Controller' | 'Node' | 'GroupController';
type CsiPackage = Record<CsiServiceName, grpc.ServiceClientConstructor>;

let csiPackage: CsiPackage | undefined;

export function loadCsiPackage(): CsiPackage {
  if (!csiPackage) {
    const definition = protoLoader.loadSync(protoPath, loaderOptions);
    const createVolume = (definition['csi.v1.Controller'] as protoLoader.ServiceDefinition).CreateVolume as protoLoader.MethodDefinition<object, object>;
    createVolume.requestSerialize = createVolumeRequestSerializer(createVolume.requestSerialize);
    createVolume.requestDeserialize = createVolumeRequestDeserializer(createVolume.requestDeserialize);
    const root = grpc.loadPackageDefinition(definition) as unknown as { csi: { v1: CsiPackage } };
    csiPackage = root.csi.v1;
  }
  return csiPackage;
}

// "unix:///run/csi.sock", "unix:/run/csi.sock" and "/run/csi.sock" all name the same socket.
export function socketPathOf(endpoint: string): string {
  const path = endpoint.replace(/^unix:(\/\/)?/, '');
  if (!path.startsWith('/')) throw new Error(`CSI endpoint ${JSON.stringify(endpoint)} is not an absolute unix socket path`);
  return path;
}

export interface CsiServices {
  identity: ServiceImpl<IdentityRpcs>;
  controller?: ServiceImpl<ControllerRpcs>;
  node?: ServiceImpl<NodeRpcs>;
  groupController?: ServiceImpl<GroupControllerRpcs>;
}

export interface CsiServer {
  endpoint: string;
  socketPath: string;
  close(): Promise<void>;
}

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof CsiError) return { code: err.code, details: err.details };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

function handlersOf(impl: object): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [method, fn] of Object.entries(impl)) {
    if (typeof fn !== 'function') continue;
    handlers[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      Promise.resolve()
        .then(() => fn.call(impl, call.request))
        .then(
          (res) => callback(null, res),
          (err) => callback(toServiceError(err)),
        );
    };
  }
  return handlers;
}

let serversStarted = 0;

export async function createCsiServer(endpoint: string, services: CsiServices): Promise<CsiServer> {
  const socketPath = socketPathOf(endpoint);
  try {
    if (lstatSync(socketPath).isSocket()) unlinkSync(socketPath); // stale socket of an earlier run
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const pkg = loadCsiPackage();
  const server = new grpc.Server();
  const byName: Array<[CsiServiceName, object | undefined]> = [
    ['Identity', services.identity],
    ['Controller', services.controller],
    ['Node', services.node],
    ['GroupController', services.groupController],
  ];
  for (const [name, impl] of byName) if (impl) server.addService(pkg[name].service, handlersOf(impl));
  // Bound beside its final name, made 0600, then renamed into place: a client that sees the socket can connect to it.
  // Bound in place, it exists between bind(2) and listen(2), and a client connecting then is refused (a loaded
  // machine can hold the driver there for milliseconds): its first call fails UNAVAILABLE without reaching the driver.
  const bindPath = join(dirname(socketPath), `.csi-${process.pid}-${++serversStarted}.sock`); // unique: `strata up` runs several
  const atomic = Buffer.byteLength(bindPath) < 108;
  if (atomic) rmSync(bindPath, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${atomic ? bindPath : socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  chmodSync(atomic ? bindPath : socketPath, 0o600);
  if (atomic) renameSync(bindPath, socketPath);
  return {
    endpoint: `unix://${socketPath}`,
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          try {
            unlinkSync(socketPath);
          } catch {
            // already gone
          }
          resolve();
        });
      }),
  };
}

export interface CallOptions {
  /** Deadline of this call in milliseconds; the client's default when absent. */
  timeoutMs?: number;
}

type RpcMethods<R> = {
  [K in keyof R as Uncapitalize<K & string>]: R[K] extends [infer Req, infer Res] ? (req?: Req, opts?: CallOptions) => Promise<Res> : never;
};

export type CsiClient = RpcMethods<IdentityRpcs> &
  RpcMethods<ControllerRpcs> &
  RpcMethods<NodeRpcs> &
  RpcMethods<GroupControllerRpcs> & { close(): void };

export function connectCsi(endpoint: string, defaults: { timeoutMs?: number } = {}): CsiClient {
  const pkg = loadCsiPackage();
  const address = `unix:${socketPathOf(endpoint)}`;
  const defaultTimeoutMs = defaults.timeoutMs ?? 60_000;
  // One connection per client, shared by its four services and by no other client: grpc-js otherwise pools
  // connections process-wide, and a new client could inherit a closed one's connection to a driver since gone.
  const credentials = grpc.credentials.createInsecure();
  const channel = new grpc.Channel(address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
  const methods: Record<string, unknown> = {};
  for (const name of ['Identity', 'Controller', 'Node', 'GroupController'] as const) {
    const client = new pkg[name](address, credentials, { channelOverride: channel });
    for (const rpc of Object.keys(pkg[name].service)) {
      const fn = (client as unknown as Record<string, Function>)[rpc];
      methods[rpc[0].toLowerCase() + rpc.slice(1)] = (req: object = {}, opts: CallOptions = {}) =>
        new Promise((resolve, reject) => {
          const deadline = new Date(Date.now() + (opts.timeoutMs ?? defaultTimeoutMs));
          fn.call(client, req, { deadline }, (err: grpc.ServiceError | null, res: unknown) =>
            err ? reject(new CsiError(err.code, err.details)) : resolve(res),
          );
        });
    }
  }
  methods.close = () => channel.close();
  return methods as CsiClient;
}
