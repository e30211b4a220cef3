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
  /** The response head read so far (until its blank line). */
  private headBytes: Buffer = Buffer.alloc(0);
  private head?: { statusCode: number; headers: Record<string, string>; framing: 'length' | 'chunked' | 'close'; length: number };
  /** The body read so far, in the pieces it came in: copied once, when it is complete. */
  private parts: Buffer[] = [];
  private received = 0;
  private chunked = { state: 'size' as 'size' | 'data' | 'dataEnd' | 'trailer', line: '', remaining: 0 };
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
    try {
      let body = chunk;
      if (!this.head) {
        const rest = this.readHead(chunk);
        if (!rest) return;
        body = rest;
      }
      const done = this.head!.framing === 'chunked' ? this.readChunked(body) : this.take(body);
      if (done) this.complete();
    } catch (err) {
      this.socket.destroy();
      this.fail('EPROTO', (err as Error).message);
    }
  }

  /** Adds to the head; once its blank line is in, parses it and returns what follows (the body's start). */
  private readHead(chunk: Buffer): Buffer | undefined {
    // Only the last three bytes read before can begin the blank line that ends the head.
    const from = Math.max(0, this.headBytes.length - 3);
    this.headBytes = this.headBytes.length === 0 ? chunk : Buffer.concat([this.headBytes, chunk]);
    const end = this.headBytes.indexOf(HEAD_END, from);
    if (end < 0) {
      if (this.headBytes.length > MAX_HEAD_BYTES) throw new Error('response head too large');
      return undefined;
    }
    const lines = this.headBytes.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!status) throw new Error(`malformed status line ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i]!.indexOf(':');
      if (colon > 0) headers[lines[i]!.slice(0, colon).trim().toLowerCase()] = lines[i]!.slice(colon + 1).trim();
    }
    const statusCode = Number(status[1]);
    let framing: 'length' | 'chunked' | 'close' = 'close';
    let length = 0;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      framing = 'chunked';
    } else if (headers['content-length'] !== undefined) {
      length = Number(headers['content-length']);
      if (!/^\d+$/.test(headers['content-length']) || !Number.isSafeInteger(length)) throw new Error(`bad Content-Length ${headers['content-length']}`);
      framing = 'length';
    } else if (statusCode === 204 || statusCode === 304) {
      framing = 'length';
    }
    // Otherwise the body runs to the end of the connection: fail() completes it on close.
    this.head = { statusCode, headers, framing, length };
    return this.headBytes.subarray(end + 4);
  }

  /** Keeps body bytes; true once a Content-Length body is complete. */
  private take(data: Buffer): boolean {
    if (data.length > 0) {
      this.parts.push(data);
      this.received += data.length;
    }
    return this.head!.framing === 'length' && this.received >= this.head!.length;
  }

  /** Decodes chunked framing as it arrives; true after the last chunk and the trailers' blank line. */
  private readChunked(data: Buffer): boolean {
    const c = this.chunked;
    let i = 0;
    while (i < data.length) {
      if (c.state === 'data') {
        const n = Math.min(c.remaining, data.length - i);
        this.take(data.subarray(i, i + n));
        c.remaining -= n;
        i += n;
        if (c.remaining === 0) c.state = 'dataEnd';
        continue;
      }
      // The other states read a line: the chunk size, the CRLF after a chunk's data, a trailer.
      const nl = data.indexOf(10, i);
      c.line += data.toString('latin1', i, nl < 0 ? data.length : nl);
      if (c.line.length > 4096) throw new Error('chunk framing line too long');
      if (nl < 0) return false;
      i = nl + 1;
      const line = c.line.trim();
      c.line = '';
      if (c.state === 'dataEnd') {
        if (line !== '') throw new Error('chunk data longer than its size');
        c.state = 'size';
      } else if (c.state === 'size') {
        const token = line.split(';')[0]!.trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(token)) throw new Error(`malformed chunk size ${JSON.stringify(token)}`);
        c.remaining = parseInt(token, 16);
        c.state = c.remaining === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        return true; // the blank line after the last chunk (and any trailers)
      }
    }
    return false;
  }

  /** Hands the response over; `closed`: the connection has ended (the body ran to its close). */
  private complete(closed = false): void {
    const exchange = this.exchange!;
    const { statusCode, headers, framing, length } = this.head!;
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.received);
    // A server that sends more than its Content-Length cannot be trusted with the next request.
    const body = framing === 'length' ? all.subarray(0, length) : all;
    closed ||= framing === 'length' && this.received > length;
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
    if (code === 'ECONNRESET' && this.head?.framing === 'close') {
      this.complete(true);
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
    this.headBytes = Buffer.alloc(0);
    this.parts = [];
    this.received = 0;
    this.chunked = { state: 'size', line: '', remaining: 0 };
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
