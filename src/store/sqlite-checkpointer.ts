// WAL checkpoints of the SQLite store, off the event loop.
//
// A checkpoint copies the pages that commits appended to the WAL back into the database file and syncs it: about 2 ms
// of fsync plus 8 µs a page on this kind of machine. SQLite's automatic checkpoint runs it inside the commit that
// crosses 1,000 pages, so every few hundred writes one of them, and everything queued behind it on the event loop
// (watch deliveries, other requests), waited ~10 ms. Here a worker thread with its own connection runs PASSIVE
// checkpoints, which never block the writer, whenever enough has been written since the last one. A checkpoint that
// a commit overlapped leaves the newest frames for the next, and the WAL only starts over (at the next commit) once a
// checkpoint has copied every frame: so one also runs whenever writes pause, which lets the WAL start over after every
// pause. Under a write load that never pauses the WAL would only grow; once it is very long the checkpointer stops and
// the store runs a RESTART checkpoint right after its next commit, a stall as SQLite's own checkpoints were, but rare.
import { Worker } from 'node:worker_threads';

/** What PRAGMA wal_checkpoint answers: whether it was blocked, frames in the WAL, frames copied back. */
interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

// Plain CommonJS evaluated by the worker (no TypeScript, no module resolution).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path);
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  let result;
  try {
    result = checkpoint.all()[0];
  } catch (err) {
    result = { error: String(err && err.message || err) };
  }
  parentPort.postMessage(result);
});
`;

/** Bytes written since the last checkpoint that call for the next one (about 256 pages). */
const CheckpointEveryBytes = 1 << 20;
/** Writes that pause this long get a checkpoint of what they wrote. */
const IdleMs = 50;
/** WAL frames past which the store resets the WAL itself (about 64 MB). */
const RestartAfterFrames = 16_384;

export class Checkpointer {
  readonly #worker: Worker;
  #written = 0;
  #lastWrite = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #closed = false;
  readonly #exited: Promise<void>;
  /** The WAL is long: the store's next commit resets it (no checkpoint runs here until then). */
  #restartDue = false;

  /**
   * onError: a checkpoint failed (the next one may not); onGone: the worker is gone, so the store must checkpoint
   * the way SQLite does by itself.
   */
  constructor(path: string, onError: (message: string) => void, onGone: () => void) {
    // stdout and stderr not piped into this process's: that would open process.stdout, which makes a pipe on fd 1
    // non-blocking for everyone writing to it synchronously.
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path }, stdout: true, stderr: true });
    this.#worker.unref();
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    void this.#exited.then(() => {
      if (!this.#closed) {
        this.#closed = true;
        onGone();
      }
    });
    this.#worker.on('message', (result: CheckpointResult | { error: string }) => {
      this.#inFlight = false;
      if ('error' in result) onError(result.error);
      else if (result.log >= RestartAfterFrames) this.#restartDue = true;
      this.#maybeStart(CheckpointEveryBytes);
    });
    this.#worker.on('error', (err) => onError(err.message));
  }

  /**
   * After each commit of the store (no transaction open): counts what it wrote, and starts a checkpoint when enough
   * has been and none is running, or when writes pause. When the WAL has grown too long, calls resetWal first: the
   * store's own RESTART checkpoint, on its connection.
   */
  committed(bytes: number, resetWal: () => void): void {
    if (this.#restartDue) {
      try {
        resetWal();
      } catch {
        // The WAL stays as it is; the next long one brings this back.
      }
      this.#restartDue = false;
    }
    this.#written += bytes;
    this.#lastWrite = performance.now();
    this.#maybeStart(CheckpointEveryBytes);
    this.#idleTimer ??= setTimeout(() => this.#idle(), IdleMs).unref();
  }

  #idle(): void {
    const quiet = performance.now() - this.#lastWrite;
    if (quiet < IdleMs) {
      this.#idleTimer = setTimeout(() => this.#idle(), IdleMs - quiet).unref();
      return;
    }
    this.#idleTimer = undefined;
    this.#maybeStart(1);
  }

  /** Starts a checkpoint when at least `bytes` were written since the last and none is running. */
  #maybeStart(bytes: number): void {
    if (this.#closed || this.#inFlight || this.#restartDue || this.#written < bytes) return;
    this.#written = 0;
    this.#inFlight = true;
    this.#worker.postMessage('check');
  }

  /** Stops the worker (its connection closed first, so the store's own close is the last one). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#worker.ref(); // the process waits for the connection to close
    this.#worker.postMessage('close');
    await this.#exited;
  }
}
