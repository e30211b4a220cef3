// One worker per pod bound to the node, as the kubelet's pod workers: a level-triggered sync loop that waits for the
// pod's claims, sets up its volumes, runs init containers in order and then the containers (restarting them per
// restartPolicy with CrashLoopBackOff), posts the status through pods/status, and on deletion stops the containers
// (SIGTERM, SIGKILL after the grace period), tears the volumes down and removes the pod object.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cloneJSON } from '../api/json.ts';
import type { Container, ContainerStatus, Pod, PodStatus } from '../api/types.ts';
import { isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Logger } from '../client/logger.ts';
import { Resources } from '../client/resources.ts';
import type { KubeClient } from '../client/rest.ts';
import type { CsiClient } from '../csi/grpc.ts';
import { LogRequestError, VolumeNotReadyError, VolumeSetupError } from './errors.ts';
import type { LogSource } from './logs.ts';
import { metaTime } from '../api/time.ts';
import { DefaultContainerPath, expandVars, startContainerProcess, type ContainerProcess, type SandboxMount } from './runtime.ts';
import {
  containerCommand, CrashLoopBackOff, goDuration, initialWaitingReason, podConditions, podPhase, shouldRestart,
  shouldRestartInit, terminalPhase, terminatedReason, UnknownReason, type TypedContainerStatus,
} from './status.ts';
import {
  describeVolume, failedMountMessage, planVolumes, PodDirs, readPodRecord, removeTreeWithoutMounts, setUpVolume, tearDownVolume,
  writePodRecord, type MountedVolume, type PodRecord,
} from './volumes.ts';

export interface WorkerOptions {
  client: KubeClient;
  csi: CsiClient;
  recorder: EventRecorder;
  dataDir: string;
  logger: Logger;
  /** How long claims may stay unusable before a FailedMount event (the kubelet's 2 minutes). */
  volumeWaitTimeoutMs: number;
  /** CrashLoopBackOff: first delay and cap (the kubelet's 10 s and 5 min). */
  backOffInitialMs: number;
  backOffMaxMs: number;
  /** Images this node has "pulled" (for the kubelet's Pulling/Pulled events). */
  pulledImages: Set<string>;
}

interface ContainerSlot {
  spec: Container;
  init: boolean;
  status: TypedContainerStatus;
  process?: ContainerProcess;
  /** Whether an instance of the container has ever been started (its next start is a restart). */
  everStarted: boolean;
  backOffMs: number;
  backOffUpdatedAt: number;
  backOffEventFor?: string;
}

const RetryMs = 1000;
const PodIP = '127.0.0.1';

/** format.Pod: NAME_NAMESPACE(UID). */
function podDescription(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

function imagePullPolicy(c: Container): string {
  const explicit = (c as Container & { imagePullPolicy?: string }).imagePullPolicy;
  if (explicit) return explicit;
  const image = c.image ?? '';
  const tag = /:([^/:@]+)$/.exec(image)?.[1];
  return image.includes('@') || (tag !== undefined && tag !== 'latest') ? 'IfNotPresent' : 'Always';
}

/** A stable pseudo digest: the "image" a process container runs is the host itself. */
function imageId(image: string): string {
  return `${image.split('@')[0]}@sha256:${createHash('sha256').update(image).digest('hex')}`;
}

function hasStarted(s: ContainerStatus | undefined): boolean {
  const t = s as TypedContainerStatus | undefined;
  return t !== undefined && (t.state?.running !== undefined || t.state?.terminated !== undefined || t.lastState?.terminated !== undefined);
}

export class PodWorker {
  pod: Pod;
  private readonly o: WorkerOptions;
  private readonly dirs: PodDirs;
  private readonly slots: ContainerSlot[];
  private mounted?: MountedVolume[];
  private volumesTornDown = false;
  private waitingForVolumesSince = Date.now();
  private lastFailedMountEventAt = 0;
  private lastStatus?: PodStatus;
  private readonly startTime: string;
  /** Set once the pod reached Succeeded or Failed: nothing runs again. */
  private finalPhase?: 'Succeeded' | 'Failed';
  private apiGone = false;
  private stopped = false;
  private wakePending = false;
  private wakeup?: () => void;
  private readonly done: Promise<void>;

  constructor(pod: Pod, options: WorkerOptions, onFinished: () => void) {
    this.pod = pod;
    this.o = options;
    this.dirs = new PodDirs(options.dataDir, pod.metadata.uid!);
    this.startTime = pod.status?.startTime ?? metaTime();
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') this.finalPhase = phase;
    const seed = (c: Container, init: boolean): ContainerSlot => this.seedSlot(c, init);
    this.slots = [...(pod.spec.initContainers ?? []).map((c) => seed(c, true)), ...pod.spec.containers.map((c) => seed(c, false))];
    this.done = this.run().finally(onFinished);
  }

  /** The slot for a container, seeded from the status an earlier run of the agent posted. */
  private seedSlot(spec: Container, init: boolean): ContainerSlot {
    const previous = [...(this.pod.status?.initContainerStatuses ?? []), ...(this.pod.status?.containerStatuses ?? [])]
      .find((s) => s.name === spec.name) as TypedContainerStatus | undefined;
    const status: TypedContainerStatus = {
      name: spec.name,
      state: { waiting: { reason: initialWaitingReason(this.pod) } },
      lastState: {},
      ready: false,
      restartCount: previous?.restartCount ?? 0,
      image: spec.image ?? '',
      imageID: '',
      started: false,
    };
    if (previous && hasStarted(previous)) {
      status.lastState = previous.lastState ?? {};
      status.containerID = previous.containerID;
      status.imageID = previous.imageID ?? '';
      const running = previous.state?.running;
      if (running && containerCommand(spec)) {
        // Its process did not survive the agent's restart: it is lost, as a container is in a node reboot.
        status.state = { terminated: { exitCode: 255, reason: UnknownReason, startedAt: String(running.startedAt), finishedAt: metaTime(), containerID: previous.containerID } };
      } else {
        status.state = previous.state;
        status.ready = previous.ready;
        status.started = previous.started;
      }
    }
    return { spec, init, status, everStarted: hasStarted(previous), backOffMs: 0, backOffUpdatedAt: 0 };
  }

  /** A newer version of the pod object. */
  update(pod: Pod): void {
    this.pod = pod;
    this.wake();
  }

  /** The pod object is gone from the API (force deleted, or deleted by us). */
  gone(): void {
    this.apiGone = true;
    this.wake();
  }

  /**
   * Agent shutdown: kill the containers and unpublish the volumes, leaving the pod object as it is. Strata's nodes
   * share one machine, so a stopped Strata must not leave bind mounts behind in its data dir; a restarted agent
   * publishes them again (idempotently) before it restarts the containers.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.done;
    await this.killContainers(0, false);
    await this.tearDownVolumes().catch((err: unknown) =>
      this.o.logger.error({ pod: `${this.pod.metadata.namespace}/${this.pod.metadata.name}`, err }, 'unpublishing volumes at shutdown failed'));
  }

  private wake(): void {
    this.wakePending = true;
    this.wakeup?.();
  }

  private async sleep(ms: number): Promise<void> {
    if (this.wakePending || this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => finish(), Math.max(0, ms)) : undefined;
      const finish = (): void => {
        clearTimeout(timer);
        this.wakeup = undefined;
        resolve();
      };
      this.wakeup = finish;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.wakePending = false;
      let next = RetryMs;
      try {
        const result = await this.sync();
        if (result === 'finished') return;
        next = result;
      } catch (err) {
        this.o.logger.error({ pod: `${this.pod.metadata.namespace}/${this.pod.metadata.name}`, err }, 'pod sync failed; retrying');
      }
      await this.sleep(next);
    }
  }

  /** One pass; answers how long until the next unless woken earlier, or 'finished'. */
  private async sync(): Promise<number | 'finished'> {
    if (this.apiGone) {
      await this.killContainers(0, false);
      await this.tearDownVolumes();
      await removeTreeWithoutMounts(this.dirs.root);
      return 'finished';
    }
    if (this.pod.metadata.deletionTimestamp) return await this.terminate();
    if (this.finalPhase) {
      await this.tearDownVolumes();
      await this.postStatus();
      return Infinity;
    }
    if (!this.mounted) {
      const wait = await this.setUpVolumes();
      if (wait !== undefined) {
        await this.postStatus();
        return wait;
      }
    }
    const next = await this.syncContainers();
    await this.postStatus();
    return next;
  }

  // ---- volumes ----

  /** Undefined when every volume is set up; else how long to wait before trying again. */
  private async setUpVolumes(): Promise<number | undefined> {
    const ctx = { client: this.o.client, csi: this.o.csi };
    let plans;
    try {
      plans = await planVolumes(ctx, this.pod);
    } catch (err) {
      if (!(err instanceof VolumeNotReadyError)) throw err;
      const now = Date.now();
      const timeout = this.o.volumeWaitTimeoutMs;
      if (now - this.waitingForVolumesSince >= timeout && now - this.lastFailedMountEventAt >= timeout) {
        this.lastFailedMountEventAt = now;
        const unmounted = (this.pod.spec.volumes ?? []).map((v) => v.name);
        this.o.recorder.event(this.pod, 'Warning', 'FailedMount', failedMountMessage(unmounted, err.volumes, [err.message]));
      }
      return RetryMs;
    }
    // What an earlier run set up stays recorded until it is set up again (idempotently) or torn down.
    const record: PodRecord = (await readPodRecord(this.dirs)) ?? { namespace: this.pod.metadata.namespace!, name: this.pod.metadata.name!, uid: this.pod.metadata.uid!, volumes: [] };
    for (const plan of plans) {
      const volume = describeVolume(this.dirs, plan);
      record.volumes = [...record.volumes.filter((v) => v.name !== volume.name), volume];
      await writePodRecord(this.dirs, record);
      try {
        await setUpVolume(ctx, plan, volume);
      } catch (err) {
        if (!(err instanceof VolumeSetupError)) throw err;
        this.o.recorder.event(this.pod, 'Warning', 'FailedMount', err.message);
        return RetryMs * 2;
      }
    }
    this.mounted = record.volumes;
    this.volumesTornDown = false;
    return undefined;
  }

  private async tearDownVolumes(): Promise<void> {
    if (this.volumesTornDown) return;
    const record = await readPodRecord(this.dirs);
    const volumes = record?.volumes ?? [];
    while (volumes.length > 0) {
      await tearDownVolume(this.o.csi, volumes[volumes.length - 1]);
      volumes.pop();
      await writePodRecord(this.dirs, record!);
    }
    this.mounted = undefined;
    this.volumesTornDown = true;
  }

  // ---- containers ----

  private async syncContainers(): Promise<number> {
    let next = Infinity;
    const inits = this.slots.filter((s) => s.init);
    for (const slot of inits) {
      const t = slot.status.state.terminated;
      if (t?.exitCode === 0) continue;
      if (slot.process || slot.status.state.running) return next;
      if (t && !shouldRestartInit(this.pod, t.exitCode)) return next; // the pod has failed
      return Math.min(next, await this.startOrBackOff(slot));
    }
    for (const slot of this.slots.filter((s) => !s.init)) {
      if (slot.process || slot.status.state.running) continue;
      const t = slot.status.state.terminated;
      const lastExit = t?.exitCode ?? slot.status.lastState.terminated?.exitCode;
      if (t && !shouldRestart(this.pod, t.exitCode)) continue;
      if (!t && slot.status.state.waiting?.reason === CrashLoopBackOff && lastExit !== undefined && !shouldRestart(this.pod, lastExit)) continue;
      next = Math.min(next, await this.startOrBackOff(slot));
    }
    return next;
  }

  /** Starts the container, or waits out its CrashLoopBackOff (kubelet doBackOff). Returns the wait. */
  private async startOrBackOff(slot: ContainerSlot): Promise<number> {
    const last = slot.status.state.terminated ?? slot.status.lastState.terminated;
    if (slot.everStarted && last) {
      const now = Date.now();
      const finishedAt = Date.parse(last.finishedAt);
      if (slot.backOffMs > 0 && now - finishedAt < slot.backOffMs) {
        const name = slot.spec.name;
        const message = `back-off ${goDuration(slot.backOffMs)} restarting failed container=${name} pod=${podDescription(this.pod)}`;
        if (slot.status.state.terminated) slot.status.lastState = { terminated: slot.status.state.terminated };
        slot.status.state = { waiting: { reason: CrashLoopBackOff, message } };
        if (slot.backOffEventFor !== last.finishedAt) {
          slot.backOffEventFor = last.finishedAt;
          this.o.recorder.event(this.pod, 'Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${podDescription(this.pod)}`);
        }
        return finishedAt + slot.backOffMs - now;
      }
      const fresh = slot.backOffMs === 0 || now - slot.backOffUpdatedAt > 2 * this.o.backOffMaxMs;
      slot.backOffMs = fresh ? this.o.backOffInitialMs : Math.min(slot.backOffMs * 2, this.o.backOffMaxMs);
      slot.backOffUpdatedAt = now;
    }
    await this.startContainer(slot);
    return Infinity;
  }

  private pullImage(c: Container): void {
    const image = c.image;
    if (!image) return;
    const policy = imagePullPolicy(c);
    if (policy === 'Never' || (policy === 'IfNotPresent' && this.o.pulledImages.has(image))) {
      this.o.recorder.event(this.pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
      return;
    }
    const started = Date.now();
    this.o.recorder.event(this.pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    this.o.pulledImages.add(image);
    const took = goDuration(Date.now() - started);
    this.o.recorder.event(this.pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: 0 bytes.`);
  }

  private async startContainer(slot: ContainerSlot): Promise<void> {
    const c = slot.spec;
    const name = c.name;
    this.pullImage(c);
    let mounts: SandboxMount[];
    try {
      mounts = await this.containerMounts(c);
    } catch (err) {
      const message = (err as Error).message;
      slot.status.state = { waiting: { reason: 'CreateContainerConfigError', message } };
      this.o.recorder.event(this.pod, 'Warning', 'Failed', `Error: ${message}`);
      return;
    }
    // The new instance's number; the slot's status changes only once the instance runs, all at once, so the status
    // and the log files it names never disagree.
    const restartCount = slot.everStarted ? slot.status.restartCount + 1 : slot.status.restartCount;
    const containerID = `strata://${randomBytes(32).toString('hex')}`;
    const command = containerCommand(c);
    const logPath = this.dirs.logPath(name, restartCount);
    this.o.recorder.event(this.pod, 'Normal', 'Created', `Created container: ${name}`);
    let proc: ContainerProcess | undefined;
    if (command) {
      const env = this.containerEnv(c);
      proc = await startContainerProcess({
        sandboxDir: join(this.dirs.containerDir(name), 'sandbox'),
        mounts,
        env,
        workingDir: c.workingDir || '/',
        command: command.map((arg) => expandVars(arg, env)),
        logPath,
        pidPath: join(this.dirs.containerDir(name), 'pid'),
      });
    } else {
      // A simulated container (an image such as nginx): it runs, silently, until the pod is deleted.
      await mkdir(join(logPath, '..'), { recursive: true });
      await writeFile(logPath, '', { flag: 'a' });
    }
    const startedAt = metaTime(proc?.startedAt.getTime());
    const status = slot.status;
    if (status.state.terminated) status.lastState = { terminated: status.state.terminated };
    Object.assign(status, {
      restartCount,
      containerID,
      imageID: c.image ? imageId(c.image) : '',
      state: { running: { startedAt } },
      ready: !slot.init,
      started: true,
    });
    slot.everStarted = true;
    slot.process = proc;
    void proc?.exited.then((exit) => {
      slot.process = undefined;
      status.state = {
        terminated: { exitCode: exit.exitCode, reason: terminatedReason(exit.exitCode), startedAt, finishedAt: metaTime(exit.finishedAt.getTime()), containerID },
      };
      status.ready = slot.init && exit.exitCode === 0;
      status.started = false;
      this.wake();
    });
    this.o.recorder.event(this.pod, 'Normal', 'Started', `Started container ${name}`);
  }

  /** The container's environment: defaults, then spec.env in order, each value expanded against the ones before. */
  private containerEnv(c: Container): Record<string, string> {
    const env: Record<string, string> = { PATH: DefaultContainerPath, HOSTNAME: this.pod.metadata.name!, HOME: '/root' };
    for (const e of c.env ?? []) env[e.name] = expandVars(e.value ?? '', env);
    return env;
  }

  private async containerMounts(c: Container): Promise<SandboxMount[]> {
    const mounts: SandboxMount[] = [];
    for (const vm of c.volumeMounts ?? []) {
      const volume = this.mounted?.find((m) => m.name === vm.name);
      if (!volume) throw new Error(`cannot find volume "${vm.name}" to mount into container "${c.name}"`);
      let source = volume.hostPath;
      if (vm.subPath) {
        source = join(source, vm.subPath);
        await mkdir(source, { recursive: true });
      }
      mounts.push({ source, target: vm.mountPath, readOnly: vm.readOnly === true || volume.readOnly });
    }
    return mounts;
  }

  /**
   * Stops every running container: Killing events and SIGTERM, SIGKILL after graceSeconds. Containers that never
   * ran end as ContainerStatusUnknown, as the kubelet reports them for a pod deleted before they started.
   */
  private async killContainers(graceSeconds: number, withEvents: boolean): Promise<void> {
    const running = this.slots.filter((s) => s.process || s.status.state.running);
    for (const slot of running) {
      if (withEvents) this.o.recorder.event(this.pod, 'Normal', 'Killing', `Stopping container ${slot.spec.name}`);
      if (slot.process) slot.process.signal(graceSeconds > 0 ? 'SIGTERM' : 'SIGKILL');
      else {
        // A simulated container stops at once, cleanly.
        const startedAt = String(slot.status.state.running!.startedAt);
        slot.status.state = { terminated: { exitCode: 0, reason: terminatedReason(0), startedAt, finishedAt: metaTime(), containerID: slot.status.containerID } };
        slot.status.ready = false;
        slot.status.started = false;
      }
    }
    const processes = running.map((s) => s.process?.exited).filter((p) => p !== undefined);
    if (graceSeconds > 0 && processes.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceSeconds * 1000)));
      await Promise.race([Promise.all(processes), graceOver]);
      clearTimeout(timer);
      for (const slot of running) slot.process?.signal('SIGKILL');
    }
    await Promise.all(processes);
    // Exit handlers run in a microtask after `exited` resolves; let them record the terminated state.
    await new Promise((r) => setImmediate(r));
  }

  private async terminate(): Promise<'finished' | number> {
    const grace = this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    await this.killContainers(grace, true);
    for (const slot of this.slots) {
      if (slot.status.state.terminated || slot.status.lastState.terminated) continue;
      const now = metaTime();
      slot.status.state = {
        terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', startedAt: now, finishedAt: now },
      };
    }
    for (const slot of this.slots) {
      if (slot.status.state.waiting && slot.status.lastState.terminated) slot.status.state = { terminated: slot.status.lastState.terminated };
    }
    this.finalPhase = terminalPhase(this.slots.filter((s) => !s.init).map((s) => s.status));
    await this.postStatus();
    await this.tearDownVolumes();
    try {
      await this.o.client.resource(Resources.pods).delete(this.pod.metadata.name!, this.pod.metadata.namespace, {
        gracePeriodSeconds: 0,
        preconditions: { uid: this.pod.metadata.uid },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await removeTreeWithoutMounts(this.dirs.root);
    return 'finished';
  }

  // ---- status ----

  private async postStatus(): Promise<void> {
    const inits = this.slots.filter((s) => s.init).map((s) => s.status);
    const regular = this.slots.filter((s) => !s.init).map((s) => s.status);
    const phase = this.finalPhase ?? podPhase(this.pod, inits, regular);
    if (phase === 'Succeeded' || phase === 'Failed') this.finalPhase = phase;
    const sandboxReady = this.mounted !== undefined && !this.finalPhase;
    const previous = [...(this.lastStatus?.conditions ?? []), ...(this.pod.status?.conditions ?? [])];
    const status: PodStatus = {
      phase,
      conditions: podConditions(this.pod, inits, regular, phase, sandboxReady, previous, metaTime()),
      hostIP: PodIP,
      hostIPs: [{ ip: PodIP }],
      podIP: PodIP,
      podIPs: [{ ip: PodIP }],
      startTime: this.startTime,
      containerStatuses: regular.map((s) => cloneJSON(s)),
    } as PodStatus;
    if (inits.length > 0) status.initContainerStatuses = inits.map((s) => cloneJSON(s));
    if (this.lastStatus && JSON.stringify(this.lastStatus) === JSON.stringify(status)) return;
    try {
      await this.o.client.resource(Resources.pods).patch(this.pod.metadata.name!, { status }, 'merge', this.pod.metadata.namespace, { subresource: 'status' });
      this.lastStatus = status;
    } catch (err) {
      if (isNotFound(err)) this.apiGone = true;
      else throw err;
    }
  }

  // ---- logs ----

  /** Which log file answers a logs request for this container (the kubelet's validateContainerLogStatus). */
  logSource(containerName: string, previous: boolean): LogSource {
    const podName = this.pod.metadata.name!;
    const slot = this.slots.find((s) => s.spec.name === containerName);
    if (!slot) throw new LogRequestError(404, `container "${containerName}" not found in pod "${podName}"`);
    const { state, lastState, restartCount } = slot.status;
    // Log files are numbered by restartCount at start: the current (or last) instance's, and the one before it.
    const currentIndex = restartCount;
    const lastIndex = state.waiting ? restartCount : restartCount - 1;
    let index: number;
    let containerID: string | undefined;
    if (previous) {
      if (!lastState.terminated?.containerID) throw new LogRequestError(400, `previous terminated container "${containerName}" in pod "${podName}" not found`);
      index = lastIndex;
      containerID = lastState.terminated.containerID;
    } else if (state.running || state.terminated) {
      index = currentIndex;
      containerID = slot.status.containerID;
    } else if (lastState.terminated) {
      index = lastIndex;
      containerID = lastState.terminated.containerID;
    } else {
      throw new LogRequestError(400, `container "${containerName}" in pod "${podName}" is waiting to start: ${state.waiting?.reason ?? 'ContainerCreating'}`);
    }
    return {
      path: this.dirs.logPath(containerName, Math.max(0, index)),
      running: () => slot.status.containerID === containerID && slot.status.state.running !== undefined,
    };
  }
}
