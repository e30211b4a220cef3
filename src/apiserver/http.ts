// The HTTP face of the API server: authentication, routing, content negotiation (JSON, YAML bodies, Tables),
// watch streams, discovery, OpenAPI, health and metrics. Verbs themselves live in rest.ts.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { parseFieldSelector, validateFieldSelectorForKind } from '../api/fields.ts';
import type { FieldSelector } from '../api/fields.ts';
import { parseLabelSelector } from '../api/labels.ts';
import type { LabelSelectorMatcher } from '../api/labels.ts';
import type { KubeObject } from '../api/types.ts';
import {
  VERSION_INFO, aggregatedDiscovery, apiGroupDoc, apiGroupList, apiResourceList, legacyAPIVersions, openapiGroupVersion, openapiIndex,
} from './discovery.ts';
import {
  ApiError, badRequest, expired, fromPatchError, internalError, methodNotAllowed, statusSuccess, tooLargeResourceVersion,
} from './errors.ts';
import type { ApiMetrics } from './metrics.ts';
import { patchTypeFromContentType, unsupportedPatchMediaType } from './patch/index.ts';
import { PROTOBUF_CONTENT_TYPE, ProtobufDecodeError, decodeKubeProtobuf } from './protobuf.ts';
import { tableColumns, tableRow } from './printers.ts';
import type { ResourceDef } from './resources.ts';
import { apiVersionOf, findResource, gvkOf, keyPrefix } from './resources.ts';
import type { FieldValidation, Rest, WriteOptions } from './rest.ts';
import type { CacheEvent, WatchCache } from './watch-cache.ts';
import { CachedObject, TooOldResourceVersionError } from './watch-cache.ts';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
const COMMA = Buffer.from(',');
const LIST_END = Buffer.from(']}');
const EVENT_END = Buffer.from('}\n');
const TABLE_CT = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const DISCOVERY_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const DISCOVERY_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

export interface HttpContext {
  rest: Rest;
  cache: WatchCache;
  metrics: ApiMetrics;
  token: string;
  serverAddress: () => string;
  /** Interval between watch bookmarks. */
  bookmarkIntervalMs: number;
  /** Proxies pods/log to the node agent serving the pod. */
  podLogs?: (ns: string, name: string, query: URLSearchParams, res: ServerResponse) => Promise<void>;
  /** Live watch responses, closed when the server stops. */
  watches: Set<ServerResponse>;
  /**
   * For stores shared by several API servers (etcd): the store's current revision. A list or get without a
   * resourceVersion then waits until this server's cache has caught up with it, as upstream's consistent reads do,
   * so a write made through another server is seen.
   */
  consistentRevision?: () => Promise<number>;
}

interface Route {
  r: ResourceDef;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function send(res: ServerResponse, code: number, body: string | Buffer, contentType = 'application/json'): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJSON(res: ServerResponse, code: number, obj: unknown, contentType?: string): void {
  send(res, code, JSON.stringify(obj), contentType);
}

function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJSON(res, err.code, err.toStatus());
}

// The server's token as bytes, encoded once rather than on every request.
let tokenBytes: { token: string; bytes: Buffer } | undefined;

function authorized(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  if (!h || !h.startsWith('Bearer ')) return false;
  if (tokenBytes?.token !== token) tokenBytes = { token, bytes: Buffer.from(token) };
  const given = Buffer.from(h.slice(7).trim());
  return given.length === tokenBytes.bytes.length && timingSafeEqual(given, tokenBytes.bytes);
}

// Plain 'data' events: an async iterator over the request costs more than the rest of reading a small body.
function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        finish();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      finish();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      finish();
      reject(err);
    };
    // A request that ends before its body is complete ("aborted") rejects, as the async iterator did.
    const onClose = (): void => {
      if (!req.complete) onError(new Error('aborted'));
    };
    const finish = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function tooLarge(): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY_BYTES}`);
}

function decodeBody(buf: Buffer, contentType: string): unknown {
  if (contentType.startsWith(PROTOBUF_CONTENT_TYPE)) {
    try {
      return decodeKubeProtobuf(buf);
    } catch (e) {
      if (!(e instanceof ProtobufDecodeError)) throw e;
      const { kind, apiVersion } = e;
      throw badRequest(kind ? `${kind} in version "${apiVersion?.split('/').pop()}" cannot be handled as a ${kind}: ${e.message}` : e.message);
    }
  }
  const text = buf.toString('utf8');
  if (text.trim() === '') throw badRequest('the body of the request was empty');
  const isYaml = /yaml/i.test(contentType);
  try {
    if (!isYaml) return JSON.parse(text);
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
  try {
    return parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
  } catch (e) {
    throw badRequest(`error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

function wantsTable(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

function partialMetadata(obj: KubeObject): unknown {
  const { managedFields: _mf, ...metadata } = obj.metadata;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata };
}

function table(r: ResourceDef, items: CachedObject[], resourceVersion: string, includeObject: string, withColumns = true): unknown {
  const now = new Date();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: withColumns ? tableColumns(r.kind) : [],
    rows: items.map((c) => {
      const obj = c.obj;
      return {
        cells: tableRow(r.kind, obj, now),
        object: includeObject === 'None' ? undefined : includeObject === 'Object' ? obj : partialMetadata(obj),
      };
    }),
  };
}

interface Filter {
  label?: LabelSelectorMatcher;
  field?: FieldSelector;
}

function makeFilter(r: ResourceDef, q: URLSearchParams, name?: string): Filter {
  const f: Filter = {};
  const ls = q.get('labelSelector');
  if (ls) {
    try {
      f.label = parseLabelSelector(ls);
    } catch (e) {
      throw badRequest((e as Error).message);
    }
  }
  let fs = q.get('fieldSelector') ?? '';
  if (name) fs = fs ? `${fs},metadata.name=${name}` : `metadata.name=${name}`;
  if (fs) {
    try {
      f.field = parseFieldSelector(fs);
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    const unsupported = validateFieldSelectorForKind(r.kind, f.field);
    if (unsupported) throw badRequest(unsupported);
  }
  return f;
}

function matches(f: Filter, c: CachedObject | undefined): boolean {
  if (!c) return false;
  if (f.label && !f.label.matches(c.labels)) return false;
  if (f.field) {
    const { fields } = c;
    if (!f.field.matches((k) => fields[k])) return false;
  }
  return true;
}

function writeOptions(req: IncomingMessage, q: URLSearchParams): WriteOptions {
  const fv = q.get('fieldValidation') ?? 'Warn';
  if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw badRequest(`fieldValidation parameter unsupported: ${fv}`);
  }
  const ua = String(req.headers['user-agent'] ?? 'unknown');
  const manager = q.get('fieldManager') ?? ua.split('/')[0];
  if (manager.length > 128) throw badRequest('fieldManager: Too long: may not be longer than 128');
  const dry = q.getAll('dryRun');
  for (const d of dry) if (d !== 'All') throw badRequest(`dryRun: Unsupported value: "${d}": supported values: "All"`);
  return { dryRun: dry.length > 0, fieldManager: manager, fieldValidation: fv as FieldValidation, warnings: [] };
}

function setWarnings(res: ServerResponse, warnings: string[]): void {
  if (warnings.length) res.setHeader('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`));
}

function parseRoute(segments: string[]): { group: string; version: string; rest: string[] } | undefined {
  if (segments[0] === 'api' && segments.length >= 2) return { group: '', version: segments[1], rest: segments.slice(2) };
  if (segments[0] === 'apis' && segments.length >= 3) return { group: segments[1], version: segments[2], rest: segments.slice(3) };
  return undefined;
}

function resolveRoute(group: string, version: string, rest: string[]): Route | undefined {
  if (rest.length === 0) return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    const r = findResource(group, version, rest[2]);
    if (!r || !r.namespaced || rest.length > 5) return undefined;
    return { r, namespace: rest[1], name: rest[3], subresource: rest[4] };
  }
  const r = findResource(group, version, rest[0]);
  if (!r || rest.length > 3) return undefined;
  return { r, name: rest[1], subresource: rest[2] };
}

export async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = (req.method ?? 'GET').toUpperCase();
  const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let metricVerb = method;
  let metricResource = '';
  let metricGroup = '';
  let metricSub = '';
  try {
    // Public endpoints (system:public-info-viewer upstream).
    if (method === 'GET' && segments.length === 1 && segments[0] === 'version') return sendJSON(res, 200, VERSION_INFO);
    if (method === 'GET' && segments.length >= 1 && ['healthz', 'livez', 'readyz'].includes(segments[0])) return send(res, 200, 'ok', 'text/plain; charset=utf-8');
    if (!authorized(req, ctx.token)) {
      throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      return send(res, 200, await ctx.metrics.render(), ctx.metrics.contentType);
    }
    if (segments[0] === 'openapi') return serveOpenAPI(res, segments);
    if (method === 'GET' && (url.pathname === '/api' || url.pathname === '/apis')) {
      return serveDiscovery(ctx, req, res, url.pathname === '/api');
    }
    const parsed = parseRoute(segments);
    if (!parsed) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (parsed.rest.length === 0) {
      if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const doc = apiResourceList(parsed.group, parsed.version);
      if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return sendJSON(res, 200, doc);
    }
    const route = resolveRoute(parsed.group, parsed.version, parsed.rest);
    if (!route) {
      if (segments[0] === 'apis' && segments.length === 2 && method === 'GET') {
        const g = apiGroupDoc(segments[1]);
        if (g) return sendJSON(res, 200, g);
      }
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    metricResource = route.r.plural;
    metricGroup = route.r.group;
    metricSub = route.subresource ?? '';
    metricVerb = await dispatch(ctx, req, res, url, method, route);
  } catch (e) {
    const err = e instanceof ApiError ? e : e instanceof TooOldResourceVersionError ? expired(e.message) : internalError(e);
    if (!(e instanceof ApiError) && !(e instanceof TooOldResourceVersionError)) {
      process.emitWarning(`apiserver: ${method} ${url.pathname}: ${(e as Error)?.stack ?? e}`);
    }
    sendError(res, err);
  } finally {
    if (metricVerb !== 'WATCH') {
      ctx.metrics.observe(metricVerb, metricGroup, metricResource, metricSub, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
}

function serveOpenAPI(res: ServerResponse, segments: string[]): void {
  if (segments[1] !== 'v3') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (segments.length === 2) return sendJSON(res, 200, openapiIndex());
  const doc = openapiGroupVersion(segments.slice(2).join('/'));
  if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  send(res, 200, doc);
}

function serveDiscovery(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, core: boolean): void {
  const accept = req.headers.accept ?? '';
  // Honour the client's order of preference among the forms we have.
  for (const part of accept.split(',')) {
    const p = part.trim();
    if (p.includes('g=apidiscovery.k8s.io') && p.includes('as=APIGroupDiscoveryList')) {
      if (p.includes('v=v2beta1')) return sendJSON(res, 200, aggregatedDiscovery(core, 'v2beta1'), DISCOVERY_V2BETA1);
      if (p.includes('v=v2')) return sendJSON(res, 200, aggregatedDiscovery(core, 'v2'), DISCOVERY_V2);
    }
    if (p.startsWith('application/json') || p === '*/*' || p === '') break;
  }
  sendJSON(res, 200, core ? legacyAPIVersions(ctx.serverAddress()) : apiGroupList());
}

async function dispatch(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, url: URL, method: string, route: Route): Promise<string> {
  const { r, namespace, name, subresource } = route;
  const q = url.searchParams;
  const isWatch = q.get('watch') === 'true' || q.get('watch') === '1';
  if (subresource && !r.subresources.includes(subresource as 'status')) {
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  }
  switch (method) {
    case 'GET': {
      if (subresource === 'log') {
        if (!ctx.podLogs) throw new ApiError(503, 'ServiceUnavailable', 'no node agent serves pod logs');
        ctx.rest.get(r, namespace, name!);
        await ctx.podLogs(namespace!, name!, q, res);
        return 'CONNECT';
      }
      if (isWatch) {
        watch(ctx, req, res, r, namespace, q, name);
        return 'WATCH';
      }
      if (name) {
        if (!q.get('resourceVersion')) await consistentRead(ctx);
        const c = ctx.rest.get(r, namespace, name);
        if (wantsTable(req)) sendJSON(res, 200, table(r, [c], String(c.rev), q.get('includeObject') ?? 'Metadata'), TABLE_CT);
        else send(res, 200, c.raw);
        return 'GET';
      }
      await list(ctx, req, res, r, namespace, q);
      return 'LIST';
    }
    case 'POST': {
      if (name && subresource === 'binding') {
        const body = decodeBody(await readBody(req), req.headers['content-type'] ?? '') as KubeObject;
        await ctx.rest.bind(r, namespace!, name, body, writeOptions(req, q));
        sendJSON(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
        return 'POST';
      }
      if (name) throw methodNotAllowed('create', r);
      const body = decodeBody(await readBody(req), req.headers['content-type'] ?? '') as KubeObject;
      const opts = writeOptions(req, q);
      const created = await ctx.rest.create(r, namespace, body, opts);
      setWarnings(res, opts.warnings);
      sendObject(res, 201, created);
      return 'POST';
    }
    case 'PUT': {
      if (!name || (subresource && subresource !== 'status')) throw methodNotAllowed('update', r);
      const body = decodeBody(await readBody(req), req.headers['content-type'] ?? '') as KubeObject;
      const opts = writeOptions(req, q);
      const { result } = await ctx.rest.update(r, namespace, name, body, opts, subresource as 'status' | undefined);
      setWarnings(res, opts.warnings);
      sendObject(res, 200, result);
      return 'PUT';
    }
    case 'PATCH': {
      if (!name || (subresource && subresource !== 'status')) throw methodNotAllowed('patch', r);
      const ct = String(req.headers['content-type'] ?? '');
      const type = patchTypeFromContentType(ct);
      if (!type) {
        throw fromPatchError(unsupportedPatchMediaType(gvkOf(r)));
      }
      const patch = decodeBody(await readBody(req), type === 'apply' ? 'yaml' : 'json');
      const opts = writeOptions(req, q);
      const force = q.get('force') === 'true';
      if (type === 'apply' && !q.get('fieldManager')) {
        throw badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      }
      if (type !== 'apply' && q.has('force')) throw badRequest('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch');
      const { result, created } = await ctx.rest.patch(r, namespace, name, type, patch, { ...opts, force }, subresource as 'status' | undefined);
      setWarnings(res, opts.warnings);
      sendObject(res, created ? 201 : 200, result);
      return type === 'apply' ? 'APPLY' : 'PATCH';
    }
    case 'DELETE': {
      if (subresource) throw methodNotAllowed('delete', r);
      const buf = await readBody(req);
      const body = (buf.length ? decodeBody(buf, req.headers['content-type'] ?? '') : {}) as Record<string, unknown>;
      const graceQ = q.get('gracePeriodSeconds');
      const grace = graceQ !== null ? Number(graceQ) : (body.gracePeriodSeconds as number | undefined);
      if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) throw badRequest('gracePeriodSeconds must be a non-negative integer');
      const dryRun = q.getAll('dryRun').length > 0 || (Array.isArray(body.dryRun) && body.dryRun.length > 0);
      const opts = { gracePeriodSeconds: grace, preconditions: body.preconditions as { uid?: string; resourceVersion?: string } | undefined, dryRun, propagationPolicy: (body.propagationPolicy as string) ?? q.get('propagationPolicy') ?? undefined };
      if (!name) {
        await deleteCollection(ctx, res, r, namespace, q, opts);
        return 'DELETECOLLECTION';
      }
      const result = await ctx.rest.delete(r, namespace, name, opts);
      if (result.remaining) sendObject(res, 200, result.remaining);
      else sendJSON(res, 200, statusSuccess(r, name, result.removed?.metadata.uid));
      return 'DELETE';
    }
    default:
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }
}

function sendObject(res: ServerResponse, code: number, o: CachedObject | KubeObject): void {
  if (o instanceof CachedObject) send(res, code, o.raw);
  else sendJSON(res, code, o);
}

async function consistentRead(ctx: HttpContext): Promise<void> {
  if (!ctx.consistentRevision) return;
  const want = await ctx.consistentRevision();
  if (!(await ctx.cache.waitForRevision(want, 3000))) {
    throw tooLargeResourceVersion(want, ctx.cache.resourceVersion);
  }
}

async function list(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, r: ResourceDef, namespace: string | undefined, q: URLSearchParams): Promise<void> {
  const filter = makeFilter(r, q);
  const rvParam = q.get('resourceVersion');
  if (rvParam && rvParam !== '0') {
    const want = Number(rvParam);
    if (!Number.isInteger(want) || want < 0) throw badRequest(`invalid resource version "${rvParam}"`);
    if (!(await ctx.cache.waitForRevision(want, 3000))) {
      throw tooLargeResourceVersion(want, ctx.cache.resourceVersion);
    }
  }
  if (!rvParam) await consistentRead(ctx);
  const rv = String(ctx.cache.resourceVersion);
  let items = ctx.cache.list(r, namespace);
  if (filter.label || filter.field) items = items.filter((c) => matches(filter, c));
  if (wantsTable(req)) return sendJSON(res, 200, table(r, items, rv, q.get('includeObject') ?? 'Metadata'), TABLE_CT);
  const head = Buffer.from(`{"kind":"${r.listKind}","apiVersion":"${apiVersionOf(r)}","metadata":{"resourceVersion":"${rv}"},"items":[`);
  let size = head.length + Math.max(0, items.length - 1) * COMMA.length + LIST_END.length;
  for (const c of items) size += c.raw.length;
  const body = takeListBuffer(size);
  let at = head.copy(body);
  for (let i = 0; i < items.length; i++) {
    if (i > 0) at += COMMA.copy(body, at);
    at += items[i].raw.copy(body, at);
  }
  LIST_END.copy(body, at);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': size });
  // Headers on their own: a response in a single buffer reaches TLS without another copy of the whole body.
  if (size >= LARGE_LIST_BYTES) res.flushHeaders();
  res.end(body, () => returnListBuffer(body));
}

// Large list bodies are built in a reused buffer: a fresh multi-megabyte allocation per list (as Buffer.concat makes)
// cost more CPU than building and encrypting the body (measured: 60 against 22 ms for 10 MB). A buffer comes back
// once its response has finished, i.e. TLS has consumed it; a response that never finishes leaves it to the GC.
const LARGE_LIST_BYTES = 1 << 20;
let spareListBuffer: ArrayBuffer | undefined;

function takeListBuffer(size: number): Buffer {
  if (size < LARGE_LIST_BYTES) return Buffer.allocUnsafe(size);
  const spare = spareListBuffer;
  spareListBuffer = undefined;
  if (spare && spare.byteLength >= size) return Buffer.from(spare, 0, size);
  // Room to grow, so a list a little longer than the last one still fits.
  return Buffer.from(new ArrayBuffer(size + (size >> 3)), 0, size);
}

function returnListBuffer(body: Buffer): void {
  if (body.length < LARGE_LIST_BYTES) return;
  const whole = body.buffer as ArrayBuffer;
  if (!spareListBuffer || spareListBuffer.byteLength < whole.byteLength) spareListBuffer = whole;
}

async function deleteCollection(
  ctx: HttpContext, res: ServerResponse, r: ResourceDef, namespace: string | undefined, q: URLSearchParams,
  opts: { gracePeriodSeconds?: number; dryRun: boolean },
): Promise<void> {
  const filter = makeFilter(r, q);
  const items = ctx.cache.list(r, namespace).filter((c) => matches(filter, c));
  const out: unknown[] = [];
  for (const c of items) {
    try {
      const result = await ctx.rest.delete(r, c.fields['metadata.namespace'] || undefined, c.fields['metadata.name']!, opts);
      const { remaining } = result;
      out.push(remaining instanceof CachedObject ? remaining.obj : remaining ?? result.removed);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }
  sendJSON(res, 200, { kind: r.listKind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(ctx.cache.resourceVersion) }, items: out });
}

// Watch events go out as HTTP/1.1 chunks written straight to the socket: the framed chunk of an event (the bytes
// ServerResponse.write would produce) is built once and shared by every watcher of it, and a watcher's writes of one
// event-loop turn leave in one socket write (not cork/uncork, whose writev costs more per socket).
const CRLF = Buffer.from('\r\n');
let lastFrame: { c: CachedObject; type: string; frame: Buffer } | undefined;

/** The chunk of a watch event line ({"type":…,"object":…}\n); the last one built is reused by the next watcher. */
function eventFrame(type: string, c: CachedObject): Buffer {
  if (lastFrame?.c === c && lastFrame.type === type) return lastFrame.frame;
  const head = `{"type":"${type}","object":`;
  const size = head.length + c.raw.length + 2;
  const frame = Buffer.concat([Buffer.from(`${size.toString(16)}\r\n${head}`), c.raw, EVENT_END, CRLF]);
  lastFrame = { c, type, frame };
  return frame;
}

// The watchers with frames to write this turn: one nextTick writes them all.
let toFlush: Array<() => void> = [];
function flushSoon(flush: () => void): void {
  if (toFlush.push(flush) > 1) return;
  process.nextTick(() => {
    const flushes = toFlush;
    toFlush = [];
    for (const f of flushes) f();
  });
}

function chunkFrame(data: string): Buffer {
  const body = Buffer.from(data);
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, CRLF]);
}

function watch(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, r: ResourceDef, namespace: string | undefined, q: URLSearchParams, name?: string): void {
  const filter = makeFilter(r, q, name);
  const asTable = wantsTable(req);
  const includeObject = q.get('includeObject') ?? 'Metadata';
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  const rvParam = q.get('resourceVersion') ?? '';
  const timeoutS = q.get('timeoutSeconds') !== null ? Number(q.get('timeoutSeconds')) : 1800 + Math.floor(Math.random() * 1800);
  if (rvParam !== '' && rvParam !== '0' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version "${rvParam}"`);
  const prefix = keyPrefix(r, namespace);

  res.writeHead(200, { 'Content-Type': asTable ? TABLE_CT : 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  ctx.watches.add(res);
  let columnsSent = false;
  let lastRV = rvParam && rvParam !== '0' ? Number(rvParam) : ctx.cache.resourceVersion;
  // Without a socket (a response queued behind a pipelined one) or chunked framing, ServerResponse writes.
  const socket = res.chunkedEncoding ? res.socket : null;
  // A watcher's frames of one event-loop turn leave together at its end: over TLS as one buffer (one record, one
  // syscall); over the local socket as one writev of them all, which copies nothing (a turn can commit a hundred
  // writes, and one buffer for all their events is big enough for malloc to map fresh pages for it each time).
  const plain = !(socket as { encrypted?: boolean } | null)?.encrypted;
  let pending: Buffer[] = [];
  const flushFrames = (): void => {
    const frames = pending;
    if (frames.length === 0) return;
    pending = [];
    if (socket!.destroyed) return;
    if (frames.length === 1) {
      socket!.write(frames[0]!);
    } else if (plain) {
      socket!.cork();
      for (const frame of frames) socket!.write(frame);
      socket!.uncork();
    } else {
      socket!.write(Buffer.concat(frames));
    }
    checkBacklog();
  };
  const sendFrame = (frame: Buffer): void => {
    if (pending.push(frame) === 1) flushSoon(flushFrames);
  };
  const sendUnframed = (line: string | Buffer): void => {
    res.write(line);
    checkBacklog();
  };
  // A consumer that stops reading must not make the server hold unbounded output.
  const checkBacklog = (): void => {
    if ((socket ?? res).writableLength > 64 * 1024 * 1024) end();
  };
  const sendLine = (line: string): void => {
    if (socket) sendFrame(chunkFrame(line));
    else sendUnframed(line);
  };

  const write = (type: string, c: CachedObject): void => {
    lastRV = c.rev;
    if (asTable) {
      sendLine(JSON.stringify({ type, object: table(r, [c], String(c.rev), includeObject, !columnsSent) }) + '\n');
      columnsSent = true;
    } else if (socket) {
      sendFrame(eventFrame(type, c));
    } else {
      sendUnframed(Buffer.concat([Buffer.from(`{"type":"${type}","object":`), c.raw, EVENT_END]));
    }
  };
  const bookmark = (): void => {
    const obj = { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(Math.max(lastRV, ctx.cache.resourceVersion)) } };
    sendLine(JSON.stringify({ type: 'BOOKMARK', object: obj }) + '\n');
  };

  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    unsubscribe?.();
    clearTimeout(timer);
    clearInterval(bookmarkTimer);
    ctx.watches.delete(res);
    flushFrames(); // what was sent goes before the final chunk
    res.end();
  };
  req.on('close', end);
  res.on('close', end);

  const onEvent = (ev: CacheEvent): void => {
    const now = matches(filter, ev.current);
    const before = ev.previous ? matches(filter, ev.previous) : false;
    if (ev.type === 'ADDED') {
      if (now) write('ADDED', ev.current);
    } else if (ev.type === 'MODIFIED') {
      if (now && before) write('MODIFIED', ev.current);
      else if (now) write('ADDED', ev.current);
      else if (before) write('DELETED', ev.current);
    } else if (before || now) {
      write('DELETED', ev.current);
    }
  };

  try {
    if (rvParam === '' || rvParam === '0') {
      const rv = ctx.cache.resourceVersion;
      for (const c of ctx.cache.list(r, namespace)) if (matches(filter, c)) write('ADDED', c);
      unsubscribe = ctx.cache.subscribe(prefix, rv, onEvent);
    } else {
      unsubscribe = ctx.cache.subscribe(prefix, Number(rvParam), onEvent);
    }
  } catch (e) {
    if (e instanceof TooOldResourceVersionError) {
      sendLine(JSON.stringify({ type: 'ERROR', object: expired(e.message).toStatus() }) + '\n');
      end();
      return;
    }
    throw e;
  }
  if (timeoutS > 0) timer = setTimeout(end, timeoutS * 1000);
  if (bookmarks) bookmarkTimer = setInterval(bookmark, ctx.bookmarkIntervalMs);
}
