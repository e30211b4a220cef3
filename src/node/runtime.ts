// The container runtime for containers with a command: each runs as a real process in a private mount namespace.
//
// Sandbox: `unshare --mount --propagation private` runs a small shell script that mounts a tmpfs on the container's
// directory under the data dir, an overlay on top of it whose lower layer is the host's root filesystem and whose upper
// layer lives in that tmpfs, fresh /proc and bind mounts of /dev and /sys, and one bind mount per volumeMount at its
// mountPath; then it pivots into the overlay and drops every other mount. So a mountPath such as /data is created in
// the overlay's tmpfs upper layer, never on the host, and anything the container writes outside its volumes vanishes
// with it. The volume bind mounts show the volume directory as their root in /proc/PID/mountinfo, which is how the
// CSI driver finds the writers to pause for a point-in-time snapshot.
//
// The process keeps the unshare's pid through exec, so signals reach the container's command directly. Output goes
// through pipes to CRI-format log files (`<RFC3339Nano> <stream> <F|P> <text>`); a pid file (pid and kernel start
// time) lets a restarted agent kill what an earlier run left behind without hitting a recycled pid.
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';
import { processStartTime } from '../driver/files.ts';

const SandboxScript = String.raw`
set -eu
base=$1; n=$2; shift 2
mount -t tmpfs -o mode=0755 strata-rootfs "$base"
mkdir "$base/upper" "$base/work" "$base/root"
r=$base/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$r"
mount --rbind /dev "$r/dev"
mount -t proc proc "$r/proc"
mount --rbind /sys "$r/sys"
while [ "$n" -gt 0 ]; do
  if [ -d "$1" ]; then mkdir -p "$r$2"; else mkdir -p "$(dirname "$r$2")"; touch "$r$2"; fi
  mount --bind "$1" "$r$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$r$2"; fi
  shift 3; n=$((n-1))
done
mkdir "$r/.strata-oldroot"
cd "$r"
pivot_root . .strata-oldroot
umount -l /.strata-oldroot
rmdir /.strata-oldroot
exec /usr/bin/env -i "$@"
`;

const HostPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** PATH of a container whose env does not set one (the usual image default). */
export const DefaultContainerPath = HostPath;

export interface SandboxMount {
  /** Host path: a directory or a file. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

export interface ProcessSpec {
  /** Host directory the sandbox's tmpfs is mounted on (created if missing). */
  sandboxDir: string;
  mounts: SandboxMount[];
  env: Record<string, string>;
  workingDir: string;
  command: string[];
  logPath: string;
  pidPath: string;
}

export interface ProcessExit {
  exitCode: number;
  finishedAt: Date;
}

export interface ContainerProcess {
  pid: number;
  startedAt: Date;
  exited: Promise<ProcessExit>;
  signal(sig: NodeJS.Signals): void;
}

/** Kubernetes' $(VAR) expansion of command, args and env values: defined names are replaced, $$ escapes a $. */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([^)]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && Object.hasOwn(env, name) ? env[name] : m;
  });
}

/** Go's time.RFC3339Nano: nanosecond fraction with trailing zeros dropped. */
export function rfc3339Nano(date: Date, nanosWithinMs = 0): string {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  const fraction = (iso.slice(20, 23) + String(nanosWithinMs).padStart(6, '0')).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

let lastStamp = 0n;
/** A log timestamp, strictly increasing so lines keep their order when read back. */
function logTimestamp(): string {
  let nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (nanos <= lastStamp) nanos = lastStamp + 1n;
  lastStamp = nanos;
  return rfc3339Nano(new Date(Number(nanos / 1_000_000n)), Number(nanos % 1_000_000n));
}

// containerd splits lines longer than 16 KiB into partial (P) entries.
const MaxLogLine = 16 * 1024;

/** Writes a stream's output as CRI log lines. */
class CriLogStream {
  private readonly out: WriteStream;
  private readonly stream: 'stdout' | 'stderr';
  private pending = '';

  constructor(out: WriteStream, stream: 'stdout' | 'stderr') {
    this.out = out;
    this.stream = stream;
  }

  write(chunk: string): void {
    this.pending += chunk;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.emit(this.pending.slice(0, nl), 'F');
      this.pending = this.pending.slice(nl + 1);
    }
    while (this.pending.length > MaxLogLine) {
      this.emit(this.pending.slice(0, MaxLogLine), 'P');
      this.pending = this.pending.slice(MaxLogLine);
    }
  }

  end(): void {
    if (this.pending) this.emit(this.pending, 'F');
    this.pending = '';
  }

  private emit(text: string, tag: 'F' | 'P'): void {
    this.out.write(`${logTimestamp()} ${this.stream} ${tag} ${text}\n`);
  }
}

interface PidFile {
  pid: number;
  startTime: string;
}

/** Kills (SIGKILL, whole process group) what a pid file names if that pid is still the process we started. */
export async function killFromPidFile(pidPath: string): Promise<boolean> {
  let record: PidFile;
  try {
    record = JSON.parse(await readFile(pidPath, 'utf8')) as PidFile;
  } catch {
    return false;
  }
  const alive = (await processStartTime(record.pid)) === record.startTime;
  if (alive) {
    try {
      process.kill(-record.pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
    for (let i = 0; i < 100 && (await processStartTime(record.pid)) === record.startTime; i++) await new Promise((r) => setTimeout(r, 20));
  }
  await rm(pidPath, { force: true });
  return alive;
}

function signalNumber(signal: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

/** Starts a container process in its sandbox; output is appended to logPath in CRI format. */
export async function startContainerProcess(spec: ProcessSpec): Promise<ContainerProcess> {
  await mkdir(spec.sandboxDir, { recursive: true });
  await mkdir(dirname(spec.logPath), { recursive: true });
  await mkdir(dirname(spec.pidPath), { recursive: true });
  const mountArgs = spec.mounts.flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']);
  const envArgs = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  const args = [
    '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', SandboxScript, 'strata-sandbox',
    spec.sandboxDir, String(spec.mounts.length), ...mountArgs,
    '-C', spec.workingDir, ...envArgs, ...spec.command,
  ];
  const log = createWriteStream(spec.logPath, { flags: 'a' });
  await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
  const child = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { PATH: HostPath } });
  const startedAt = new Date();
  const stdout = new CriLogStream(log, 'stdout');
  const stderr = new CriLogStream(log, 'stderr');
  child.stdout.setEncoding('utf8').on('data', (c: string) => stdout.write(c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => stderr.write(c));
  const spawned = new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      const finishedAt = new Date();
      // When a container's main process ends, the container ends: whatever it forked goes too, as tearing down a
      // container's PID namespace kills every process in it (a shell that dies on SIGTERM would otherwise orphan
      // its `sleep`).
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // no process left in the group
      }
      // A background child of the container may hold the pipes open; do not wait for it past a moment.
      const streamsDone = Promise.all([
        new Promise((r) => child.stdout.once('close', r)),
        new Promise((r) => child.stderr.once('close', r)),
      ]);
      const settle = (): void => {
        stdout.end();
        stderr.end();
        log.end(() => {
          void rm(spec.pidPath, { force: true }).finally(() => resolve({ exitCode: code ?? 128 + signalNumber(signal ?? 'SIGKILL'), finishedAt }));
        });
      };
      void Promise.race([streamsDone, new Promise((r) => setTimeout(r, 500))]).then(settle);
    });
  });
  await spawned;
  const pid = child.pid!;
  const startTime = await processStartTime(pid);
  if (startTime !== undefined) await writeFile(spec.pidPath, JSON.stringify({ pid, startTime } satisfies PidFile));
  return {
    pid,
    startedAt,
    exited,
    signal(sig) {
      try {
        // SIGKILL takes the whole process group (children the command forked); SIGTERM goes to the command only.
        process.kill(sig === 'SIGKILL' ? -pid : pid, sig);
      } catch {
        // already gone
      }
    },
  };
}
