// Container logs as the kubelet serves them: CRI log files read back as plain text (optionally with each line's
// timestamp), tailLines / sinceSeconds / limitBytes, and follow until the container instance stops.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { open, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LogRequestError } from './errors.ts';

export interface CriLogEntry {
  timestamp: string;
  stream: 'stdout' | 'stderr';
  /** The text with its line ending when the entry completes a line (F). */
  text: string;
}

/** Parses CRI log lines; malformed lines are skipped, as the kubelet does. */
export function parseCriLog(content: string): CriLogEntry[] {
  const entries: CriLogEntry[] = [];
  for (const line of content.split('\n')) {
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(line);
    if (!m) continue;
    entries.push({ timestamp: m[1], stream: m[2] as 'stdout' | 'stderr', text: m[3] === 'F' ? `${m[4]}\n` : m[4] });
  }
  return entries;
}

export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  previous: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  limitBytes?: number;
}

function nonNegativeInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  // validation.ValidatePodLogOptions: tailLines >= 0, limitBytes and sinceSeconds >= 1.
  if (!Number.isInteger(n) || n < 0 || (name !== 'tailLines' && n < 1)) throw new LogRequestError(422, '{"message": "Invalid request."}');
  return n;
}

export function parseLogOptions(q: URLSearchParams): LogOptions {
  const flag = (name: string): boolean => q.get(name) === 'true' || q.get(name) === '1';
  const sinceTime = q.get('sinceTime') ?? undefined;
  const options: LogOptions = {
    follow: flag('follow'),
    timestamps: flag('timestamps'),
    previous: flag('previous'),
    tailLines: nonNegativeInt(q, 'tailLines'),
    sinceSeconds: nonNegativeInt(q, 'sinceSeconds'),
    sinceTime,
    limitBytes: nonNegativeInt(q, 'limitBytes'),
  };
  if (options.sinceSeconds !== undefined && sinceTime !== undefined) throw new LogRequestError(422, '{"message": "Invalid request."}');
  return options;
}

/** Renders entries the way `kubectl logs` prints them. */
export function renderEntries(entries: CriLogEntry[], options: Pick<LogOptions, 'timestamps'>): string {
  let out = '';
  let atLineStart = true;
  for (const e of entries) {
    if (options.timestamps && atLineStart) out += `${e.timestamp} `;
    out += e.text;
    atLineStart = e.text.endsWith('\n');
  }
  return out;
}

/** The entries after since-filtering and tailing (tail counts complete lines, as the kubelet's tail does). */
export function selectEntries(entries: CriLogEntry[], options: LogOptions, now = Date.now()): CriLogEntry[] {
  const sinceMs = options.sinceSeconds !== undefined ? now - options.sinceSeconds * 1000 : options.sinceTime ? Date.parse(options.sinceTime) : undefined;
  let selected = sinceMs !== undefined ? entries.filter((e) => Date.parse(e.timestamp) >= sinceMs) : entries;
  if (options.tailLines !== undefined) {
    let lines = 0;
    let start = selected.length;
    while (start > 0) {
      if (selected[start - 1].text.endsWith('\n')) {
        if (lines === options.tailLines) break;
        lines++;
      }
      start--;
    }
    selected = selected.slice(start);
  }
  return selected;
}

/** What the log server asks the agent about one container's logs. */
export interface LogSource {
  /** The log file to read, or a LogRequestError with the kubelet's message. */
  path: string;
  /** For follow: true while the container instance writing this file still runs. */
  running(): boolean;
}

export type LogLookup = (namespace: string, pod: string, container: string, previous: boolean) => LogSource;

const FollowPollMs = 200;

/** Writes the selected log text; with follow, keeps writing what is appended until the instance stops. */
export async function streamLogs(source: LogSource, options: LogOptions, res: ServerResponse, closed: () => boolean): Promise<void> {
  let remaining = options.limitBytes ?? Infinity;
  const write = (text: string): boolean => {
    if (remaining <= 0 || !text) return remaining > 0;
    const buf = Buffer.from(text);
    const chunk = buf.length > remaining ? buf.subarray(0, remaining) : buf;
    remaining -= chunk.length;
    res.write(chunk);
    return remaining > 0;
  };
  let content = '';
  try {
    content = await readFile(source.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Only complete lines are rendered; a partly written last line waits for its end.
  const complete = content.slice(0, content.lastIndexOf('\n') + 1);
  let offset = Buffer.byteLength(complete);
  let carry = '';
  if (!write(renderEntries(selectEntries(parseCriLog(complete), options), options)) || !options.follow) return;
  // Follow through one open handle: the pod's directory may be removed right after its last line is written, and
  // an open file outlives its name.
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    for (;;) {
      if (closed()) return;
      const running = source.running();
      fh ??= await open(source.path, 'r').catch(() => undefined);
      const size = fh ? (await fh.stat()).size : 0;
      if (fh && size > offset) {
        const buf = Buffer.alloc(size - offset);
        await fh.read(buf, 0, buf.length, offset);
        offset = size;
        carry += buf.toString('utf8');
        const nl = carry.lastIndexOf('\n');
        if (nl >= 0) {
          if (!write(renderEntries(parseCriLog(carry.slice(0, nl + 1)), options))) return;
          carry = carry.slice(nl + 1);
        }
      } else if (!running) {
        return;
      }
      await sleep(FollowPollMs);
    }
  } finally {
    await fh?.close();
  }
}

export interface LogServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The kubelet's read-only log endpoint: GET /containerLogs/{namespace}/{pod}/{container}, behind a bearer token.
 */
export async function startLogServer(lookup: LogLookup, tokenCheck: ((token: string) => boolean) | undefined): Promise<LogServer> {
  const server: Server = createServer((req, res) => void handle(req, res));
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = (code: number, body: string): void => {
      if (res.headersSent) return void res.end();
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    try {
      const auth = req.headers.authorization ?? '';
      const token = /^Bearer (.+)$/i.exec(auth)?.[1];
      if (!token || !tokenCheck || !tokenCheck(token)) return text(401, 'Unauthorized');
      const url = new URL(req.url ?? '/', 'http://node');
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
      if (!m) return text(404, '404 page not found');
      if (req.method !== 'GET') return text(405, 'Method Not Allowed');
      const [namespace, pod, container] = m.slice(1).map(decodeURIComponent);
      const options = parseLogOptions(url.searchParams);
      const source = lookup(namespace, pod, container, options.previous);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked' });
      let closed = false;
      res.once('close', () => (closed = true));
      await streamLogs(source, options, res, () => closed);
      res.end();
    } catch (err) {
      if (err instanceof LogRequestError) text(err.code, err.message);
      else text(500, (err as Error).message);
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
