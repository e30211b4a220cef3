// The data dir's file work: where volumes and snapshots live, copying trees, measuring them, bind mounts and
// pausing a volume's writers. Paths are only ever built from IDs that passed parseVolumeId/parseSnapshotId.
import { execFile } from 'node:child_process';
import { constants, type Dirent } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, readdir, readFile, readlink, rename, rm, rmdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const volumeIdPattern = new RegExp(`^vol-${uuid}$`);
const snapshotIdPattern = new RegExp(`^snap-${uuid}$`);

export const newVolumeId = () => `vol-${crypto.randomUUID()}`;
export const newSnapshotId = () => `snap-${crypto.randomUUID()}`;
export const isVolumeId = (id: string) => volumeIdPattern.test(id);
export const isSnapshotId = (id: string) => snapshotIdPattern.test(id);

export class DataDir {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  volumePath(id: string): string {
    if (!isVolumeId(id)) throw new Error(`not a volume id: ${JSON.stringify(id)}`);
    return join(this.root, 'volumes', id);
  }
  snapshotPath(id: string): string {
    if (!isSnapshotId(id)) throw new Error(`not a snapshot id: ${JSON.stringify(id)}`);
    return join(this.root, 'snapshots', id);
  }
  // Work in progress is built here and renamed into place, so a half-made tree never sits at its final path.
  scratchPath(id: string): string {
    if (!isVolumeId(id) && !isSnapshotId(id)) throw new Error(`not an id: ${JSON.stringify(id)}`);
    return join(this.root, 'scratch', id);
  }
  // Records of the writers a point-in-time copy has stopped (see VolumeFreezes).
  freezesPath(): string {
    return join(this.root, 'freezes');
  }
  async prepare(): Promise<void> {
    for (const dir of ['volumes', 'snapshots', 'scratch', 'freezes']) await mkdir(join(this.root, dir), { recursive: true, mode: 0o700 });
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

// rm -rf with the fewest syscalls for what is usually there: nothing (scratch space) or an empty directory (a volume
// never written to): one rmdir, where fs.rm stats the path twice first.
export async function removeTree(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
    await rm(path, { recursive: true, force: true });
  }
}

// Moves a finished tree into place. rename replaces an empty directory by itself; whatever else a crashed attempt left
// at the destination is removed first.
export async function publishTree(scratch: string, dest: string): Promise<void> {
  try {
    await rename(scratch, dest);
  } catch (err) {
    if (!['ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await rm(dest, { recursive: true, force: true });
    await rename(scratch, dest);
  }
}

const CopyConcurrency = 8;

// Copies a directory tree: regular files as reflink clones where the filesystem can (a plain copy otherwise),
// symlinks as symlinks (never followed), modes, owners and mtimes preserved. Sockets, fifos and devices are skipped.
export async function copyTree(src: string, dest: string): Promise<void> {
  const files: Array<[string, string]> = [];
  const dirs: Array<[string, string]> = [];
  async function walk(from: string, to: string): Promise<void> {
    await mkdir(to, { recursive: true });
    dirs.push([from, to]);
    const entries: Dirent[] = await readdir(from, { withFileTypes: true });
    for (const e of entries) {
      const a = join(from, e.name);
      const b = join(to, e.name);
      if (e.isDirectory()) await walk(a, b);
      else if (e.isFile()) files.push([a, b]);
      else if (e.isSymbolicLink()) {
        await symlink(await readlink(a), b);
        await copyAttributes(a, b, true);
      }
    }
  }
  await walk(src, dest);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < files.length) {
      const [a, b] = files[next++];
      await copyFile(a, b, constants.COPYFILE_FICLONE);
      await copyAttributes(a, b, false);
    }
  }
  await Promise.all(Array.from({ length: Math.min(CopyConcurrency, files.length) }, worker));
  // Directories last, deepest first: filling them changed their mtimes.
  for (const [a, b] of dirs.reverse()) await copyAttributes(a, b, false);
}

async function copyAttributes(from: string, to: string, isLink: boolean): Promise<void> {
  const s = await lstat(from);
  await lchown(to, s.uid, s.gid);
  if (isLink) return lutimes(to, s.atime, s.mtime);
  await chmod(to, s.mode & 0o7777);
  await utimes(to, s.atime, s.mtime);
}

// Bytes the tree occupies on disk (allocated blocks, like du), and its inode count.
export async function treeUsage(root: string): Promise<{ bytes: bigint; inodes: bigint }> {
  let bytes = 0n;
  let inodes = 0n;
  async function walk(path: string): Promise<void> {
    const s = await lstat(path, { bigint: true });
    bytes += s.blocks * 512n;
    inodes += 1n;
    if (s.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
  }
  await walk(root);
  return { bytes, inodes };
}

// ---- mounts ----

interface MountInfo {
  device: string; // major:minor
  root: string; // path inside the mounted filesystem
  mountPoint: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const f = l.split(' ');
      return { device: f[2], root: unescapeMountField(f[3]), mountPoint: unescapeMountField(f[4]) };
    });
}

export async function isMountPoint(path: string): Promise<boolean> {
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  return mounts.some((m) => m.mountPoint === path);
}

export async function bindMount(source: string, target: string, readonly: boolean): Promise<void> {
  await run('mount', ['--bind', source, target]);
  if (readonly) await run('mount', ['-o', 'remount,bind,ro', target]);
}

export async function unmount(target: string): Promise<void> {
  await run('umount', [target]);
}

// Where `path` lives inside its filesystem: the root field a bind mount of it shows in /proc/*/mountinfo.
async function filesystemPathOf(path: string): Promise<{ device: string; fsPath: string }> {
  const s = await stat(path);
  const device = `${Math.floor(s.dev / 256) & 0xfff}:${(s.dev & 0xff) | ((s.dev >> 12) & 0xfff00)}`;
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const holder = mounts
    .filter((m) => path === m.mountPoint || path.startsWith(m.mountPoint === '/' ? '/' : m.mountPoint + '/'))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  const rest = holder.mountPoint === '/' ? path : path.slice(holder.mountPoint.length);
  const fsPath = (holder.root === '/' ? '' : holder.root) + rest;
  return { device, fsPath: fsPath === '' ? '/' : fsPath };
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + '/');
}

/**
 * The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses): [0] is the state,
 * [1] the parent, [19] the start time. Undefined if the process is gone.
 */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** This process and every process above it, up to and including init. */
async function selfAndAncestors(): Promise<Set<number>> {
  const chain = new Set<number>();
  for (let pid = process.pid; pid > 0 && !chain.has(pid); pid = Number((await statFields(pid))?.[1] ?? 0)) chain.add(pid);
  return chain;
}

// Every process that can write to the volume: those whose mount namespace holds a bind mount of the volume's
// directory (pods run in their own mount namespaces), and those with an open file or working directory inside it or
// inside one of its publish targets. Never this process or one above it: stopping the kubelet, `strata up` or a test
// that supervises the driver would leave nothing to resume it if the driver died before it did.
export async function findWriters(volumeDir: string, targetPaths: string[]): Promise<number[]> {
  const { device, fsPath } = await filesystemPathOf(volumeDir);
  const ownNamespace = await readlink('/proc/self/ns/mnt');
  const spared = await selfAndAncestors();
  const roots = [volumeDir, ...targetPaths];
  const writers: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || spared.has(pid)) continue;
    try {
      if ((await readlink(`/proc/${pid}/ns/mnt`)) !== ownNamespace) {
        const mounts = parseMountInfo(await readFile(`/proc/${pid}/mountinfo`, 'utf8'));
        if (mounts.some((m) => m.device === device && within(m.root, fsPath))) {
          writers.push(pid);
          continue;
        }
      }
      const links = [await readlink(`/proc/${pid}/cwd`)];
      for (const fd of await readdir(`/proc/${pid}/fd`)) links.push(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
      if (links.some((l) => roots.some((r) => within(l, r)))) writers.push(pid);
    } catch {
      // the process exited while we looked
    }
  }
  return writers;
}

async function isStopped(pid: number): Promise<boolean> {
  const state = (await statFields(pid))?.[0];
  return state === undefined || state === 'T' || state === 't' || state === 'Z' || state === 'X'; // undefined: gone
}

// Stops the given processes (SIGSTOP, waiting until each has actually stopped); returns those it stopped.
export async function stopProcesses(pids: number[]): Promise<number[]> {
  const stopped: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
    } catch {
      // exited already
    }
  }
  for (const pid of stopped) {
    for (let i = 0; i < 200 && !(await isStopped(pid)); i++) await new Promise((r) => setTimeout(r, 5));
  }
  return stopped;
}

export function resumeProcesses(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // exited meanwhile
    }
  }
}

/** The kernel start time of a live process (field 22 of /proc/PID/stat), or undefined if it is gone or a zombie. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const fields = await statFields(pid);
  return !fields || fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
}

/** A process as a freeze record names it: pid and kernel start time, so that a recycled pid is never signalled. */
interface ProcessRef {
  pid: number;
  startTime: string;
}

interface FreezeRecord {
  /** The driver process that stopped them. */
  owner: ProcessRef;
  stopped: ProcessRef[];
}

async function processRefs(pids: number[]): Promise<ProcessRef[]> {
  const refs = await Promise.all(pids.map(async (pid) => ({ pid, startTime: await processStartTime(pid) })));
  return refs.filter((r): r is ProcessRef => r.startTime !== undefined);
}

/**
 * Resumes the writers that drivers killed in the middle of a freeze left stopped (their records outlive them); a
 * record whose driver still runs is that driver's. Returns how many processes it resumed.
 */
export async function resumeAbandonedFreezes(dirs: DataDir): Promise<number> {
  let resumed = 0;
  let names: string[];
  try {
    names = await readdir(dirs.freezesPath());
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dirs.freezesPath(), name);
    let record: FreezeRecord;
    try {
      record = JSON.parse(await readFile(path, 'utf8')) as FreezeRecord;
    } catch {
      await rm(path, { force: true }); // a record torn by the crash: it was written before any process was stopped
      continue;
    }
    if ((await processStartTime(record.owner.pid)) === record.owner.startTime) continue;
    for (const p of record.stopped) {
      if ((await processStartTime(p.pid)) !== p.startTime) continue;
      resumeProcesses([p.pid]);
      resumed++;
    }
    await rm(path, { force: true });
  }
  return resumed;
}

/**
 * Keeps a volume's writers stopped while any point-in-time copy of it runs. Concurrent copies of one volume share one
 * freeze (each alone would resume the writers while another still copies); the writers resume when the last ends.
 * Before any writer is stopped a record naming them is written, and it is removed once they are resumed: a driver
 * killed in between leaves it for the next driver to start (resumeAbandonedFreezes), so no pod stays stopped.
 */
export class VolumeFreezes {
  private readonly active = new Map<string, { holders: number; stopped: Promise<number[]> }>();
  private readonly dirs: DataDir;

  constructor(dirs: DataDir) {
    this.dirs = dirs;
  }

  private recordPath(volumeId: string): string {
    return join(this.dirs.freezesPath(), `${volumeId}.${process.pid}.json`);
  }

  private async stop(volumeId: string, pids: number[]): Promise<number[]> {
    const path = this.recordPath(volumeId);
    if (pids.length > 0) {
      const owner = (await processRefs([process.pid]))[0]!;
      const record: FreezeRecord = { owner, stopped: await processRefs(pids) };
      await writeFile(`${path}.tmp`, JSON.stringify(record));
      await rename(`${path}.tmp`, path);
    }
    return stopProcesses(pids);
  }

  private async resume(volumeId: string, stopped: number[]): Promise<void> {
    resumeProcesses(stopped);
    await rm(this.recordPath(volumeId), { force: true });
  }

  async hold<T>(volumeId: string, findWriters: () => Promise<number[]>, fn: () => Promise<T>): Promise<T> {
    let freeze = this.active.get(volumeId);
    if (!freeze) {
      freeze = { holders: 0, stopped: findWriters().then((pids) => this.stop(volumeId, pids)) };
      this.active.set(volumeId, freeze);
    }
    freeze.holders++;
    try {
      await freeze.stopped;
      return await fn();
    } finally {
      if (--freeze.holders === 0) {
        this.active.delete(volumeId);
        await this.resume(volumeId, await freeze.stopped.catch(() => []));
      }
    }
  }
}
