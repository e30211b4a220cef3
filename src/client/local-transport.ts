// Requests to a Strata API server over its local unix socket: HTTP/1.1 with keep-alive, one request at a time per
// connection, at most `maxConnections` of them. A request is one write (head and body together) and a response is
// read with as little work as HTTP/1.1 allows; undici, which the client uses over TCP and TLS, spends about as much
// CPU per request again on generality that a local socket to a known server does not need.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface LocalRequest {
  method: string;
  /** Path and query, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** The request fails when no byte of its response arrives for this long. */
  timeoutMs: number;
}

export interface LocalResponse {
  statusCode: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  text: string;
}

/** Why a request failed on its connection: `code` as Node names socket errors, `reused` when it was kept alive. */
export class LocalTransportError extends Error {
  readonly code: string;
  /** The connection had carried an earlier exchange: the server may have closed it before reading this request. */
  readonly reused: boolean;
  constructor(message: string, code: string, reused: boolean, cause?: unknown) {
    super(message, { cause });
    this.code = code;
    this.reused = reused;
  }
}

const MAX_HEAD_BYTES = 64 * 1024;
// What HTTP allows in a header name, a header value and a request target (node:http's checks): a CR or LF from a
// token or a name would otherwise start a header or a request of its own.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
const TARGET = /^[\x21-\x7e]+$/;
// Kept-alive connections idle longer than this are closed instead of reused: the server closes them at 65 s.
const IDLE_MS = 50_000;
const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

interface Exchange {
  request: LocalRequest;
  resolve: (r: LocalResponse) => void;
  reject: (err: Error) => void;
}

/** One connection and the response it is reading, if any. */
class Connection {
  readonly socket: Socket;
  /** Exchanges completed on it. */
  served = 0;
  idleSince = 0;
  private exchange?: Exchange;
  private ended = false;
  private timer?: NodeJS.Timeout;
  private buffered: Buffer = Buffer.alloc(0);
  private head?: { statusCode: number; headers: Record<string, string>; bodyStart: number };
  private readonly onDone: (conn: Connection, reusable: boolean) => void;

  constructor(path: string, onDone: (conn: Connection, reusable: boolean) => void) {
    this.onDone = onDone;
    this.socket = connect(path);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? 'ECONNRESET', err.message, err));
    this.socket.on('close', () => this.fail('ECONNRESET', 'the API server closed the connection'));
  }

  send(exchange: Exchange): void {
    this.exchange = exchange;
    const { method, path, headers, body, timeoutMs } = exchange.request;
    let head = `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    head += body === undefined ? '\r\n' : `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    this.socket.write(body === undefined ? head : head + body);
    this.timer = setTimeout(() => {
      this.socket.destroy();
      this.fail('ETIMEDOUT', `no response for ${timeoutMs} ms`);
    }, timeoutMs);
  }

  private read(chunk: Buffer): void {
    if (!this.exchange) {
      // Nothing asked for: a server that talks out of turn cannot be trusted with the next request.
      this.socket.destroy();
      return;
    }
    this.timer?.refresh();
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      this.parse();
    } catch (err) {
      this.socket.destroy();
      this.fail('EPROTO', (err as Error).message);
    }
  }

  private parse(): void {
    if (!this.head) {
      const end = this.buffered.indexOf(HEAD_END);
      if (end < 0) {
        if (this.buffered.length > MAX_HEAD_BYTES) throw new Error('response head too large');
        return;
      }
      const lines = this.buffered.toString('latin1', 0, end).split('\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
      if (!status) throw new Error(`malformed status line ${JSON.stringify(lines[0])}`);
      const headers: Record<string, string> = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i]!.indexOf(':');
        if (colon > 0) headers[lines[i]!.slice(0, colon).trim().toLowerCase()] = lines[i]!.slice(colon + 1).trim();
      }
      this.head = { statusCode: Number(status[1]), headers, bodyStart: end + 4 };
    }
    const { headers, bodyStart } = this.head;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const body = this.chunkedBody(bodyStart);
      if (body) this.complete(body);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0) throw new Error(`bad Content-Length ${headers['content-length']}`);
      if (this.buffered.length - bodyStart >= length) this.complete(this.buffered.subarray(bodyStart, bodyStart + length));
    } else if (this.head.statusCode === 204 || this.head.statusCode === 304) {
      this.complete(Buffer.alloc(0));
    }
    // Otherwise the body runs to the end of the connection: fail() completes it on close.
  }

  /** The decoded body once the last chunk is in, else undefined (and nothing consumed). */
  private chunkedBody(start: number): Buffer | undefined {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = this.buffered.indexOf(CRLF, at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(this.buffered.toString('latin1', at, lineEnd).split(';')[0]!, 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error('malformed chunk size');
      // The last chunk, then trailers (if any) and an empty line.
      if (size === 0) return this.buffered.indexOf(HEAD_END, lineEnd) >= 0 ? Buffer.concat(parts) : undefined;
      if (this.buffered.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(this.buffered.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }

  /** Hands the response over; `closed`: the connection has ended (the body ran to its close). */
  private complete(body: Buffer, closed = false): void {
    const exchange = this.exchange!;
    const { statusCode, headers } = this.head!;
    this.reset();
    this.served++;
    const reusable = !closed && headers.connection?.toLowerCase() !== 'close';
    exchange.resolve({ statusCode, headers, text: body.toString('utf8') });
    if (reusable) {
      this.onDone(this, true);
    } else {
      this.ended = true;
      this.socket.destroy();
      this.onDone(this, false);
    }
  }

  /** The connection ended or broke: the exchange in progress, if any, fails (or ends, for a body that runs to close). */
  private fail(code: string, message: string, cause?: unknown): void {
    const exchange = this.exchange;
    if (!exchange) {
      if (!this.ended) this.end();
      return;
    }
    const head = this.head;
    if (code === 'ECONNRESET' && head && head.headers['content-length'] === undefined && !head.headers['transfer-encoding']) {
      this.complete(this.buffered.subarray(head.bodyStart), true);
      return;
    }
    const reused = this.served > 0;
    this.reset();
    this.socket.destroy();
    exchange.reject(new LocalTransportError(`${exchange.request.method} ${exchange.request.path}: ${message}`, code, reused, cause));
    this.end();
  }

  /** Reports the connection gone, once (its error and close events, or its last response, all end it). */
  private end(): void {
    this.ended = true;
    this.onDone(this, false);
  }

  private reset(): void {
    clearTimeout(this.timer);
    this.exchange = undefined;
    this.head = undefined;
    this.buffered = Buffer.alloc(0);
  }
}

/** What in a request HTTP/1.1 cannot carry as it is, if anything. */
function invalidPart({ method, path, headers }: LocalRequest): string | undefined {
  if (!TOKEN.test(method)) return `invalid method ${JSON.stringify(method)}`;
  if (!TARGET.test(path)) return `invalid character in the path ${JSON.stringify(path)}`;
  for (const name in headers) {
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
    if (INVALID_VALUE_CHAR.test(headers[name]!)) return `invalid character in the value of header ${name}`;
  }
  return undefined;
}

/** Keep-alive connections to one unix socket; requests beyond maxConnections wait for a free one, in order. */
export class LocalPool {
  private readonly path: string;
  private readonly maxConnections: number;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Exchange[] = [];
  private closed = false;

  constructor(path: string, maxConnections: number) {
    this.path = path;
    this.maxConnections = maxConnections;
  }

  request(request: LocalRequest): Promise<LocalResponse> {
    if (this.closed) return Promise.reject(new LocalTransportError('the client is closed', 'ECONNRESET', false));
    const invalid = invalidPart(request);
    if (invalid) return Promise.reject(new LocalTransportError(`${request.method}: ${invalid}`, 'ERR_INVALID_CHAR', false));
    return new Promise((resolve, reject) => {
      const exchange = { request, resolve, reject };
      const conn = this.takeIdle() ?? (this.all.size < this.maxConnections ? this.open() : undefined);
      if (conn) this.start(conn, exchange);
      else this.waiting.push(exchange);
    });
  }

  /** Connections open now (busy or idle). */
  get connections(): number {
    return this.all.size;
  }

  /** Closes every connection; requests in flight fail. */
  destroy(): void {
    this.closed = true;
    for (const exchange of this.waiting.splice(0)) exchange.reject(new LocalTransportError('the client is closed', 'ECONNRESET', false));
    for (const conn of this.all) conn.socket.destroy();
  }

  private takeIdle(): Connection | undefined {
    const now = performance.now();
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (now - conn.idleSince < IDLE_MS && !conn.socket.destroyed) return conn;
      this.all.delete(conn);
      conn.socket.destroy();
    }
    return undefined;
  }

  private open(): Connection {
    const conn = new Connection(this.path, (c, reusable) => this.done(c, reusable));
    this.all.add(conn);
    return conn;
  }

  private start(conn: Connection, exchange: Exchange): void {
    conn.socket.ref();
    conn.send(exchange);
  }

  private done(conn: Connection, reusable: boolean): void {
    if (!reusable) {
      this.all.delete(conn);
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      // A connection that broke while requests wait: open another for the next one.
      const next = this.waiting.shift();
      if (next && !this.closed) this.start(this.open(), next);
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      this.start(conn, next);
      return;
    }
    conn.idleSince = performance.now();
    conn.socket.unref();
    this.idle.push(conn);
  }
}
