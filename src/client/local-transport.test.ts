// LocalPool against real HTTP/1.1 servers on a unix socket: node:http for the framings it produces, and a raw
// net server for what node:http never sends (a body that runs to the close, a broken status line).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalPool, LocalTransportError } from './local-transport.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-local-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function listen<S extends Server | NetServer>(server: S): Promise<{ server: S; path: string; close: () => Promise<void> }> {
  const path = join(dir, `s${n++}.sock`);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    server,
    path,
    close: () => {
      (server as Server).closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function httpServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  return listen(createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  }));
}

const get = (path = '/') => ({ method: 'GET', path, headers: { Accept: 'application/json' }, timeoutMs: 5000 });

describe('LocalPool', () => {
  it('sends method, path, headers and a UTF-8 body with its byte length; reads a Content-Length response', async () => {
    const seen: Array<{ method?: string; url?: string; length?: string; auth?: string; body: string }> = [];
    const s = await httpServer((req, res, body) => {
      seen.push({ method: req.method, url: req.url, length: req.headers['content-length'], auth: req.headers.authorization, body });
      res.writeHead(201, { 'Content-Type': 'application/json', 'Retry-After': '3' });
      res.end(JSON.stringify({ echo: body }));
    });
    const pool = new LocalPool(s.path, 4);
    try {
      const body = JSON.stringify({ name: 'zoë ☃' });
      const res = await pool.request({ method: 'PUT', path: '/api/v1/x?dryRun=All', headers: { Authorization: 'Bearer t' }, body, timeoutMs: 5000 });
      assert.equal(res.statusCode, 201);
      assert.equal(res.headers['retry-after'], '3');
      assert.deepEqual(JSON.parse(res.text), { echo: body });
      assert.deepEqual(seen, [{ method: 'PUT', url: '/api/v1/x?dryRun=All', length: String(Buffer.byteLength(body)), auth: 'Bearer t', body }]);
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('decodes chunked responses, large and split across many reads, and keeps the connection', async () => {
    const big = 'x'.repeat(300_000);
    const s = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }); // no length: node:http sends it chunked
      for (let i = 0; i < big.length; i += 10_000) res.write(big.slice(i, i + 10_000));
      res.end('!');
    });
    const pool = new LocalPool(s.path, 4);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await pool.request(get())).text, `${big}!`);
      assert.equal(pool.connections, 1);
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('opens a new connection after Connection: close, and after the server closed an idle one', async () => {
    let requests = 0;
    const s = await httpServer((req, res) => {
      requests++;
      res.writeHead(200, req.url === '/close' ? { Connection: 'close' } : {});
      res.end('ok');
    });
    const sockets = new Set<Socket>();
    s.server.on('connection', (c: Socket) => sockets.add(c));
    const pool = new LocalPool(s.path, 4);
    try {
      assert.equal((await pool.request(get('/close'))).text, 'ok');
      assert.equal((await pool.request(get())).text, 'ok');
      assert.equal(sockets.size, 2, 'Connection: close is not reused');
      for (const c of sockets) c.destroy(); // the server drops the idle connection
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await pool.request(get())).text, 'ok');
      assert.equal(sockets.size, 3);
      assert.equal(requests, 3);
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('reads responses however they are split: byte by byte, chunk framing with extensions and trailers', async () => {
    const responses: Record<string, string> = {
      '/length': 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world',
      '/chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
      '/extra': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA',
    };
    const sockets = new Set<Socket>();
    const s = await listen(createNetServer((c) => {
      sockets.add(c);
      c.on('error', () => undefined);
      c.on('data', async (req: Buffer) => {
        const path = req.toString().split(' ')[1]!;
        const text = responses[path]!;
        if (path === '/extra') return c.write(text); // in one piece, so that the extra bytes come with the body
        for (const byte of Buffer.from(text)) {
          c.write(Buffer.from([byte]));
          await new Promise((r) => setImmediate(r));
        }
      });
    }));
    const pool = new LocalPool(s.path, 1);
    try {
      assert.equal((await pool.request(get('/length'))).text, 'hello world');
      assert.equal((await pool.request(get('/chunked'))).text, 'hello world');
      assert.equal(sockets.size, 1, 'both on one kept-alive connection');
      assert.equal((await pool.request(get('/extra'))).text, 'ok');
      assert.equal((await pool.request(get('/length'))).text, 'hello world');
      assert.equal(sockets.size, 2, 'a connection that sent more than its Content-Length is not reused');
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('a large body in many reads is read in time linear in its size', { timeout: 30_000 }, async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 'a');
    const s = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': big.length });
      res.end(big);
    });
    const pool = new LocalPool(s.path, 1);
    try {
      const started = performance.now();
      const res = await pool.request(get());
      assert.equal(res.text.length, big.length);
      // Copying the body so far on every read (hundreds of reads of 64 KiB) would take many seconds.
      assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('a body without length or chunking runs to the close; 204 has none', async () => {
    const s = await listen(createNetServer((c) => {
      c.on('data', (req: Buffer) => {
        if (req.toString().startsWith('GET /empty')) c.write('HTTP/1.1 204 No Content\r\n\r\n');
        else c.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
      });
    }));
    const pool = new LocalPool(s.path, 4);
    try {
      assert.deepEqual(await pool.request(get('/empty')).then((r) => [r.statusCode, r.text]), [204, '']);
      assert.deepEqual(await pool.request(get('/rest')).then((r) => [r.statusCode, r.text]), [200, 'until the end']);
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('fails with a code that says why: a timeout, a broken response, a dropped connection (reused or not), no server', async () => {
    const s = await listen(createNetServer((c) => {
      c.on('error', () => undefined);
      c.on('data', (req: Buffer) => {
        const path = req.toString().split(' ')[1];
        if (path === '/slow') return; // never answers
        if (path === '/garbage') c.write('SMTP ready\r\n\r\n');
        else if (path === '/drop') c.destroy();
        else c.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    }));
    const pool = new LocalPool(s.path, 4);
    const failure = (p: Promise<unknown>) => p.then(() => assert.fail('expected a failure'), (e: unknown) => {
      assert.ok(e instanceof LocalTransportError);
      return [e.code, e.reused];
    });
    try {
      assert.deepEqual(await failure(pool.request({ ...get('/slow'), timeoutMs: 100 })), ['ETIMEDOUT', false]);
      assert.deepEqual(await failure(pool.request(get('/garbage'))), ['EPROTO', false]);
      assert.deepEqual(await failure(pool.request(get('/drop'))), ['ECONNRESET', false]);
      assert.equal((await pool.request(get('/ok'))).text, 'ok');
      assert.deepEqual(await failure(pool.request(get('/drop'))), ['ECONNRESET', true], 'a kept-alive connection says so');
      assert.equal((await pool.request(get('/ok'))).text, 'ok', 'and the pool goes on with a new one');
    } finally {
      pool.destroy();
      await s.close();
    }
    const gone = new LocalPool(join(dir, 'nobody.sock'), 4);
    assert.deepEqual(await failure(gone.request(get())), ['ENOENT', false]);
    gone.destroy();
  });

  it('refuses, before sending anything, a request HTTP cannot carry: CR or LF in a header value, bad names, spaces in the path', async () => {
    let connections = 0;
    const s = await httpServer((_req, res) => res.end('ok'));
    s.server.on('connection', () => connections++);
    const pool = new LocalPool(s.path, 4);
    try {
      const bad: Array<[Partial<Parameters<LocalPool['request']>[0]>, RegExp]> = [
        [{ headers: { Authorization: 'Bearer t\r\nX-Injected: 1' } }, /invalid character in the value of header Authorization/],
        [{ headers: { 'Bad Name': 'v' } }, /invalid header name "Bad Name"/],
        [{ path: '/api/v1/x y' }, /invalid character in the path/],
        [{ path: '/a\r\nGET /b' }, /invalid character in the path/],
        [{ method: 'GET /x' }, /invalid method/],
      ];
      for (const [override, message] of bad) {
        await assert.rejects(pool.request({ ...get(), ...override }), (e: unknown) => e instanceof LocalTransportError && e.code === 'ERR_INVALID_CHAR' && message.test(e.message));
      }
      assert.equal(connections, 0, 'nothing was sent');
      assert.equal((await pool.request(get())).text, 'ok');
    } finally {
      pool.destroy();
      await s.close();
    }
  });

  it('destroy fails what is in flight and what waits, and refuses new requests', async () => {
    // Reads requests (so that it sees the client go) and never answers.
    const s = await listen(createNetServer((c) => c.on('error', () => undefined).resume()));
    const pool = new LocalPool(s.path, 1);
    try {
      const settled = Promise.allSettled([pool.request(get()), pool.request(get())]);
      await new Promise((r) => setTimeout(r, 50));
      pool.destroy();
      const [inFlight, queued] = await settled;
      assert.ok(inFlight.status === 'rejected' && inFlight.reason instanceof LocalTransportError, 'the request in flight fails');
      assert.ok(queued.status === 'rejected' && /the client is closed/.test(queued.reason.message), 'the waiting one fails');
      await assert.rejects(pool.request(get()), /the client is closed/);
    } finally {
      await s.close();
    }
  });
});
