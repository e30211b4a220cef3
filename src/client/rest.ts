// A lean typed REST client over @kubernetes/client-node's KubeConfig: client-node loads kubeconfigs and in-cluster
// config and authenticates (tokens, exec plugins, client certificates); requests go through one keep-alive undici
// Pool and watches through a node:http(s) Agent, with no client-side throttling unless a QPS limit is asked for. When
// the kubeconfig names a Strata API server's local socket that exists, requests go over it through LocalPool instead
// (local-transport.ts) and watches through a node:http Agent on it.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { Pool, buildConnector } from 'undici';
import type { Cluster } from '@kubernetes/client-node';
import type { KubeObject, Status } from '../api/types.ts';
import { ApiError, RequestConstructionError, genericServerResponse } from './errors.ts';
import { localSocketOf } from './kubeconfig.ts';
import { LocalPool, LocalTransportError } from './local-transport.ts';
import { TokenBucket } from './rate-limiter.ts';

/**
 * Which REST collection a resource is: /api/v1/… for the core group, /apis/GROUP/VERSION/… otherwise.
 * T is the object type the collection holds, so `client.resource(Resources.pvc)` is typed without a type argument.
 */
export interface ResourceType<T extends KubeObject = KubeObject> {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  kind?: string;
  /** Type-level only: never set. */
  readonly __object?: T;
}

/** "v1" or "GROUP/VERSION". */
export function apiVersionOf(type: ResourceType<KubeObject>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export interface ListOptions {
  /** Unset on a namespaced resource: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
}

export interface WatchOptions extends ListOptions {
  allowWatchBookmarks?: boolean;
  /** The server ends the watch after this long; the client also gives up 30 s later if the server did not. */
  timeoutSeconds?: number;
}

export interface ObjectList<T> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchHandle {
  /** Ends the watch; onDone is not called after stop(). */
  stop(): void;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface WriteOptions {
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  dryRun?: boolean;
}

export interface PatchOptions extends WriteOptions {
  /** Server-side apply: take over fields other managers own. */
  force?: boolean;
  /** Patch a subresource, e.g. 'status'. */
  subresource?: string;
}

export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface KubeClientOptions {
  /** Client-side request rate limit; unset means none (client-go's default of 5 qps is a known bottleneck). */
  qps?: number;
  /** Burst above qps; defaults to max(10, qps). */
  burst?: number;
  userAgent?: string;
  /** A non-watch request fails when its connection is idle this long; default 60 s. */
  requestTimeoutMs?: number;
  /**
   * At most this many connections for non-watch requests (default 64); more requests at once wait for a free one.
   * HTTP/1.1 needs a connection per request in flight, and a burst (a scheduler binding hundreds of pods) would
   * otherwise open, and pay the TLS handshake for, hundreds. Watches have their own connections.
   */
  maxConnections?: number;
  /**
   * Send everything over this unix socket, as plain HTTP/1.1, instead of to the kubeconfig's server: the socket a
   * Strata API server on this machine also serves on (fromKubeconfig finds it in the kubeconfig). The credentials are
   * the kubeconfig's all the same.
   */
  socketPath?: string;
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
}

// client-go retries a response that asks for it (429, or 5xx with Retry-After) up to 10 times.
const MAX_RETRY_AFTER = 10;
const WATCH_GRACE_MS = 30_000;

/** client-node 2.x refuses plain http unless the cluster says skipTLSVerify; there is no TLS to verify, so say it. */
function withPlainHttpAllowed(kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.server.startsWith('http:') && !c.skipTLSVerify)) return kc;
  const fixed = new KubeConfig();
  fixed.loadFromOptions({
    clusters: kc.clusters.map((c): Cluster => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return fixed;
}

function queryString(query: RequestSpec['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function isStatus(body: unknown): body is Status {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Status';
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorFromResponse(code: number, method: string, text: string): ApiError {
  const body = parseJSON(text);
  if (isStatus(body) && typeof body.code === 'number') return new ApiError(body);
  return new ApiError(genericServerResponse(code, method, text.trim()));
}

function retryAfterMs(code: number, retryAfter: string | undefined): number | undefined {
  const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
  if (!Number.isInteger(seconds) || seconds < 0) return undefined;
  if (code !== 429 && code < 500) return undefined;
  return seconds * 1000;
}

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  /** The API server's base URL. */
  readonly server: URL;
  /** The namespace of the kubeconfig's current context ('default' when it names none). */
  readonly namespace: string;
  /** The unix socket requests and watches go over instead of `server`, if any (KubeClientOptions.socketPath). */
  readonly socketPath?: string;
  private readonly options: Required<Omit<KubeClientOptions, 'qps' | 'burst' | 'socketPath'>>;
  private readonly throttle?: TokenBucket;
  /** Keep-alive connections for requests (at most maxConnections), and for watches (one each, unlimited). */
  private pool?: Pool;
  /** Instead of the pool, when requests go over the API server's local socket. */
  private local?: LocalPool;
  private watchAgent?: http.Agent;
  /** When each request connection was made, by its local port: tells a kept-alive connection from a fresh one. */
  private readonly connectedAt = new Map<number, number>();
  /** The credentials of a user whose kubeconfig entry fixes them (no exec plugin, no auth provider), worked out once. */
  private fixedAuth?: https.RequestOptions;

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    this.kubeConfig = withPlainHttpAllowed(kubeConfig);
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new RequestConstructionError('kubeconfig: no current cluster');
    this.server = new URL(cluster.server);
    if (this.server.protocol !== 'http:' && this.server.protocol !== 'https:') {
      throw new RequestConstructionError(`kubeconfig: unsupported server URL ${cluster.server}`);
    }
    const context = this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext());
    this.namespace = context?.namespace || 'default';
    this.options = {
      userAgent: options.userAgent ?? `strata (${process.platform}/${process.arch})`,
      requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
      maxConnections: options.maxConnections ?? 64,
    };
    if (options.qps !== undefined) this.throttle = new TokenBucket(options.qps, options.burst ?? Math.max(10, options.qps));
    this.socketPath = options.socketPath;
  }

  /**
   * From a kubeconfig file; without a path: $KUBECONFIG, ~/.kube/config, then in-cluster config. When the file (the
   * one given, or a $KUBECONFIG that names one file) names a local socket of the API server that exists, requests and
   * watches go over it (see LocalSocketExtension), unless options.socketPath names another or localSocket is false.
   */
  static fromKubeconfig(path?: string, options: KubeClientOptions & { localSocket?: boolean } = {}): KubeClient {
    const { localSocket = true, ...clientOptions } = options;
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    const file = path ?? (process.env.KUBECONFIG && !process.env.KUBECONFIG.includes(':') ? process.env.KUBECONFIG : undefined);
    let socketPath = clientOptions.socketPath;
    if (socketPath === undefined && localSocket && file) {
      try {
        socketPath = localSocketOf(readFileSync(file, 'utf8'));
      } catch {
        // loadFromFile read it a moment ago; if it is gone now, the server URL it gave will do
      }
    }
    return new KubeClient(kc, { ...clientOptions, socketPath });
  }

  resource<T extends KubeObject = KubeObject>(type: ResourceType<T>): ResourceClient<T> {
    return new ResourceClient<T>(this, type);
  }

  /** Closes the connections (requests in flight fail; open watches end when stopped). */
  close(): void {
    void this.pool?.destroy().catch(() => undefined);
    this.local?.destroy();
    this.watchAgent?.destroy();
    this.pool = undefined;
    this.local = undefined;
    this.watchAgent = undefined;
  }

  /**
   * What client-node's applyToHTTPSOptions gives for the current user. It decodes the CA and keys and builds an agent
   * each time (tens of µs a request), so when nothing in them can change (a token or certificate in the kubeconfig,
   * not an exec plugin or auth provider that refreshes) they are kept.
   */
  private async credentials(): Promise<https.RequestOptions> {
    const auth: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(auth);
    const user = this.kubeConfig.getCurrentUser();
    if (!user?.exec && !user?.authProvider) this.fixedAuth = auth;
    return auth;
  }

  /**
   * Waits for the rate limit, if any, and returns the credentials. On first use it builds the request pool and the
   * watch agent from the TLS options client-node gives, with one TLS context for all their connections (building one
   * per connection parses the CA and keys every time).
   */
  private async prepare(): Promise<https.RequestOptions> {
    if (this.throttle) {
      const wait = this.throttle.reserve();
      if (wait > 0) await sleep(wait);
    }
    const auth = this.fixedAuth ?? (await this.credentials());
    if (!this.watchAgent) {
      const tls = this.server.protocol === 'https:' && this.socketPath === undefined;
      const secureContext = tls ? createSecureContext({ ca: auth.ca, cert: auth.cert, key: auth.key }) : undefined;
      const tlsOptions = { secureContext, rejectUnauthorized: auth.rejectUnauthorized, servername: auth.servername };
      // HTTP/1.1 like the watches (undici would otherwise offer h2 by ALPN to servers that speak it).
      if (this.socketPath !== undefined) {
        this.local = new LocalPool(this.socketPath, this.options.maxConnections);
      } else {
        const connect = buildConnector({ ...(tls ? tlsOptions : {}), allowH2: false });
        this.pool = new Pool(this.server.origin, {
          connections: this.options.maxConnections,
          connect: (opts, callback) => connect(opts, (err, socket) => {
            if (socket?.localPort !== undefined) this.connectedAt.set(socket.localPort, performance.now());
            callback(err, socket as never);
          }),
        });
      }
      this.watchAgent = tls ? new https.Agent({ keepAlive: true, ...tlsOptions }) : new http.Agent({ keepAlive: true });
    }
    return auth;
  }

  /** The headers every request carries: credentials, what it accepts, who it is. */
  private headers(auth: https.RequestOptions, contentType?: string): Record<string, string> {
    const headers: Record<string, string> = { ...(auth.headers as Record<string, string>), Accept: 'application/json', 'User-Agent': this.options.userAgent };
    if (auth.auth) headers.Authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`;
    if (contentType) headers['Content-Type'] = contentType;
    return headers;
  }

  private pathOf(spec: Pick<RequestSpec, 'path' | 'query'>): string {
    return this.server.pathname.replace(/\/$/, '') + spec.path + queryString(spec.query);
  }

  /**
   * One exchange on the request pool (undici: about half the client CPU of node:http per request). A request that
   * fails because the server closed a kept-alive connection as it was sent (the server restarted, or timed the
   * connection out) is sent once more on a fresh one, as node:http's reusedSocket advice has it: the server closed the
   * connection before reading the request. A GET is sent again after any connection failure.
   */
  private async send(spec: RequestSpec, body: string | undefined, auth: https.RequestOptions): Promise<{ code: number; retryAfter?: string; text: string }> {
    const timeoutMs = this.options.requestTimeoutMs;
    const path = this.pathOf(spec);
    const headers = this.headers(auth, body === undefined ? undefined : spec.contentType ?? 'application/json');
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        if (this.local) {
          const res = await this.local.request({ method: spec.method, path, headers, body, timeoutMs });
          return { code: res.statusCode, retryAfter: res.headers['retry-after'], text: res.text };
        }
        const res = await this.pool!.request({ method: spec.method, path, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        const retryAfter = res.headers['retry-after'];
        return { code: res.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, text: await res.body.text() };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') {
          throw new Error(`request timed out after ${timeoutMs} ms: ${spec.method} ${path}`, { cause: err });
        }
        const dropped = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
        let reused: boolean;
        if (err instanceof LocalTransportError) {
          reused = err.reused;
        } else {
          const port = (err as { socket?: { localPort?: number } }).socket?.localPort;
          reused = port !== undefined && (this.connectedAt.get(port) ?? Infinity) < started;
        }
        if (dropped && attempt === 0 && (reused || spec.method === 'GET')) continue;
        throw err;
      }
    }
  }

  /** One API call: JSON in, JSON out; an error answer throws ApiError. */
  async request<R>(spec: RequestSpec): Promise<R> {
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    for (let attempt = 0; ; attempt++) {
      const auth = await this.prepare();
      const { code, retryAfter, text } = await this.send(spec, body, auth);
      if (code >= 200 && code < 300) return (text ? JSON.parse(text) : undefined) as R;
      const wait = retryAfterMs(code, retryAfter);
      if (wait !== undefined && attempt < MAX_RETRY_AFTER) {
        await sleep(wait);
        continue;
      }
      throw errorFromResponse(code, spec.method, text);
    }
  }

  /**
   * A watch: one JSON event per line. An ERROR event ends it with onDone(ApiError) (410 Expired → isGone);
   * the server closing the stream ends it with onDone(); a transport failure with onDone(err).
   */
  watch(
    path: string,
    query: RequestSpec['query'],
    onEvent: (type: WatchEventType, object: KubeObject) => void,
    onDone: (err?: Error) => void,
  ): WatchHandle {
    let stopped = false;
    let req: http.ClientRequest | undefined;
    let guard: NodeJS.Timeout | undefined;
    const close = (): void => {
      stopped = true;
      clearTimeout(guard);
      req?.destroy();
    };
    const finish = (err?: Error): void => {
      if (stopped) return;
      close();
      onDone(err);
    };
    const start = async (): Promise<void> => {
      const auth = await this.prepare();
      if (stopped) return;
      const local = this.socketPath !== undefined;
      const options: https.RequestOptions = {
        protocol: local ? 'http:' : this.server.protocol,
        ...(local ? { socketPath: this.socketPath, hostname: 'localhost' } : { hostname: this.server.hostname.replace(/^\[|\]$/g, ''), port: this.server.port || undefined }),
        path: this.pathOf({ path, query: { ...query, watch: true } }),
        method: 'GET',
        headers: this.headers(auth),
        agent: this.watchAgent,
      };
      const transport = options.protocol === 'https:' ? https : http;
      req = transport.request(options, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish(errorFromResponse(res.statusCode ?? 0, 'GET', Buffer.concat(chunks).toString('utf8'))));
          res.on('error', finish);
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while (!stopped && (nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line) handleLine(line);
          }
        });
        res.on('end', () => finish());
        res.on('error', finish);
        res.on('aborted', () => finish(new Error('watch stream aborted')));
      });
      req.on('error', finish);
      req.end();
      const timeoutSeconds = Number(query?.timeoutSeconds);
      if (timeoutSeconds > 0) guard = setTimeout(() => finish(new Error('watch outlived its timeoutSeconds')), timeoutSeconds * 1000 + WATCH_GRACE_MS);
    };
    const handleLine = (line: string): void => {
      const event = parseJSON(line) as { type?: string; object?: KubeObject } | undefined;
      if (!event?.type || !event.object) return finish(new Error(`malformed watch event: ${line.slice(0, 200)}`));
      if (event.type === 'ERROR') {
        const status = event.object as unknown;
        return finish(isStatus(status) ? new ApiError(status) : new Error(`watch error: ${line.slice(0, 200)}`));
      }
      try {
        onEvent(event.type as WatchEventType, event.object);
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    };
    start().catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    return { stop: close };
  }
}

/** Typed verbs on one resource (client-go's typed clients, generic over the kind). */
export class ResourceClient<T extends KubeObject> {
  readonly client: KubeClient;
  readonly type: ResourceType<T>;

  constructor(client: KubeClient, type: ResourceType<T>) {
    this.client = client;
    this.type = type;
  }

  /** /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] or /apis/GROUP/VERSION/… */
  path(namespace?: string, name?: string, subresource?: string): string {
    const t = this.type;
    let p = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
    if (t.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${t.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  private namespaceFor(verb: string, name: string | undefined, namespace: string | undefined): string | undefined {
    if (!this.type.namespaced) return undefined;
    if (!namespace) throw new RequestConstructionError(`a namespace is required to ${verb} ${this.type.plural}${name ? ` "${name}"` : ''}`);
    return namespace;
  }

  /** The server requires apiVersion and kind in a body (client-go's typed clients always send them). */
  private withTypeMeta(obj: T): T {
    if (obj.kind || !this.type.kind) return obj;
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(this.type), kind: this.type.kind };
  }

  private objectPath(verb: string, obj: KubeObject, subresource?: string): string {
    const name = obj.metadata?.name;
    if (!name) throw new RequestConstructionError(`${verb} ${this.type.plural}: metadata.name is required`);
    return this.path(this.namespaceFor(verb, name, obj.metadata.namespace), name, subresource);
  }

  async get(name: string, namespace?: string): Promise<T> {
    return this.client.request<T>({ method: 'GET', path: this.path(this.namespaceFor('get', name, namespace), name) });
  }

  /** Lists; items get the list's apiVersion and kind, which the server leaves out of list items. */
  async list(options: ListOptions = {}): Promise<ObjectList<T>> {
    const list = await this.client.request<ObjectList<T>>({
      method: 'GET',
      path: this.path(options.namespace),
      query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, resourceVersion: options.resourceVersion },
    });
    const kind = list.kind?.replace(/List$/, '');
    for (const item of list.items ?? []) {
      item.apiVersion ??= list.apiVersion;
      item.kind ??= kind;
    }
    list.items ??= [];
    return list;
  }

  async create(obj: T, options: WriteOptions = {}): Promise<T> {
    const ns = this.namespaceFor('create', obj.metadata?.name ?? obj.metadata?.generateName, obj.metadata?.namespace);
    return this.client.request<T>({ method: 'POST', path: this.path(ns), query: writeQuery(options), body: this.withTypeMeta(obj) });
  }

  async update(obj: T, options: WriteOptions = {}): Promise<T> {
    return this.client.request<T>({ method: 'PUT', path: this.objectPath('update', obj), query: writeQuery(options), body: this.withTypeMeta(obj) });
  }

  async updateStatus(obj: T, options: WriteOptions = {}): Promise<T> {
    return this.client.request<T>({ method: 'PUT', path: this.objectPath('update', obj, 'status'), query: writeQuery(options), body: this.withTypeMeta(obj) });
  }

  async patch(name: string, patch: unknown, type: PatchType, namespace?: string, options: PatchOptions = {}): Promise<T> {
    return this.client.request<T>({
      method: 'PATCH',
      path: this.path(this.namespaceFor('patch', name, namespace), name, options.subresource),
      query: { ...writeQuery(options), force: options.force },
      body: patch,
      contentType: PATCH_CONTENT_TYPES[type],
    });
  }

  /** Deletes; answers the object when it remains (finalizers, graceful deletion) or the server returns it, else undefined. */
  async delete(name: string, namespace?: string, options?: DeleteOptions): Promise<T | undefined> {
    const { dryRun, ...rest } = options ?? {};
    const body = options ? { kind: 'DeleteOptions', apiVersion: 'v1', ...rest, ...(dryRun ? { dryRun: ['All'] } : {}) } : undefined;
    const res = await this.client.request<T | Status | undefined>({ method: 'DELETE', path: this.path(this.namespaceFor('delete', name, namespace), name), body });
    return isStatus(res) ? undefined : res;
  }

  /** POST to a subresource, e.g. pods/NAME/binding. */
  async createSubresource<R = unknown>(name: string, namespace: string | undefined, subresource: string, body: unknown): Promise<R> {
    return this.client.request<R>({ method: 'POST', path: this.path(this.namespaceFor('create', name, namespace), name, subresource), body });
  }

  watch(options: WatchOptions, onEvent: (type: WatchEventType, object: T) => void, onDone: (err?: Error) => void): WatchHandle {
    return this.client.watch(
      this.path(options.namespace),
      {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: options.allowWatchBookmarks,
        timeoutSeconds: options.timeoutSeconds,
      },
      onEvent as (type: WatchEventType, object: KubeObject) => void,
      onDone,
    );
  }
}

function writeQuery(o: WriteOptions): RequestSpec['query'] {
  return { fieldManager: o.fieldManager, fieldValidation: o.fieldValidation, dryRun: o.dryRun ? 'All' : undefined };
}
