// The plugin runner (pkg/scheduler/framework/runtime/framework.go): each extension point in registration order,
// with upstream's status handling and error wrapping.
import type { Pod } from '../../api/types.ts';
import {
  MaxNodeScore,
  MinNodeScore,
  Status,
  type BindPlugin,
  type CycleState,
  type EnqueueExtensions,
  type FilterPlugin,
  type NodePluginScores,
  type NodeScore,
  type Plugin,
  type PostFilterPlugin,
  type PreBindPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ReservePlugin,
  type ScorePlugin,
} from './interfaces.ts';
import type { NodeInfo } from './node-info.ts';

// The filter plugins not skipped at PreFilter, worked out once per cycle: Filter runs them for hundreds of nodes.
const activeFilterKey = 'framework/activeFilterPlugins';
const skippedScoreKey = 'framework/skipScorePlugins';

const implementsPoint = <T extends Plugin>(p: Plugin, method: string): p is T => typeof (p as unknown as Record<string, unknown>)[method] === 'function';

export interface PreFilterOutcome {
  status?: Status;
  /** Plugins that rejected the pod (for re-queueing on cluster events). */
  unschedulablePlugins: Set<string>;
}

export class Framework {
  readonly plugins: Plugin[];
  readonly preFilterPlugins: PreFilterPlugin[];
  readonly filterPlugins: FilterPlugin[];
  readonly postFilterPlugins: PostFilterPlugin[];
  readonly preScorePlugins: PreScorePlugin[];
  readonly scorePlugins: Array<{ plugin: ScorePlugin; weight: number }>;
  readonly reservePlugins: ReservePlugin[];
  readonly preBindPlugins: PreBindPlugin[];
  readonly bindPlugins: BindPlugin[];
  readonly enqueueExtensions: EnqueueExtensions[];

  /** `weights`: score weight per plugin name; a missing or zero weight is 1, as upstream defaults it. */
  constructor(plugins: Plugin[], weights: Record<string, number> = {}) {
    this.plugins = plugins;
    this.preFilterPlugins = plugins.filter((p) => implementsPoint<PreFilterPlugin>(p, 'preFilter'));
    this.filterPlugins = plugins.filter((p) => implementsPoint<FilterPlugin>(p, 'filter'));
    this.postFilterPlugins = plugins.filter((p) => implementsPoint<PostFilterPlugin>(p, 'postFilter'));
    this.preScorePlugins = plugins.filter((p) => implementsPoint<PreScorePlugin>(p, 'preScore'));
    this.scorePlugins = plugins
      .filter((p) => implementsPoint<ScorePlugin>(p, 'score'))
      .map((plugin) => ({ plugin, weight: weights[plugin.name] || 1 }));
    this.reservePlugins = plugins.filter((p) => implementsPoint<ReservePlugin>(p, 'reserve'));
    this.preBindPlugins = plugins.filter((p) => implementsPoint<PreBindPlugin>(p, 'preBind'));
    this.bindPlugins = plugins.filter((p) => implementsPoint<BindPlugin>(p, 'bind'));
    this.enqueueExtensions = plugins.filter((p) => implementsPoint<EnqueueExtensions>(p, 'eventsToRegister'));
  }

  plugin<T extends Plugin>(name: string): T | undefined {
    return this.plugins.find((p) => p.name === name) as T | undefined;
  }

  /**
   * RunPreFilterPlugins: UnschedulableAndUnresolvable stops at once; Unschedulable lets the others run (preemption
   * may still help) and is returned at the end; any other failure is an error.
   */
  runPreFilterPlugins(state: CycleState, pod: Pod, nodes: NodeInfo[]): PreFilterOutcome {
    const skipped = new Set<string>();
    const unschedulablePlugins = new Set<string>();
    let rejected: Status | undefined;
    for (const pl of this.preFilterPlugins) {
      const s = pl.preFilter(state, pod, nodes);
      if (!s || s.isSuccess()) continue;
      if (s.isSkip()) {
        skipped.add(pl.name);
        continue;
      }
      s.withPlugin(pl.name);
      if (s.code === 'UnschedulableAndUnresolvable') {
        unschedulablePlugins.add(pl.name);
        return { status: s, unschedulablePlugins };
      }
      if (s.code === 'Unschedulable') {
        unschedulablePlugins.add(pl.name);
        rejected = s;
        continue;
      }
      return { status: Status.error(`running PreFilter plugin "${pl.name}": ${s.message()}`).withPlugin(pl.name), unschedulablePlugins };
    }
    state.write(activeFilterKey, skipped.size === 0 ? this.filterPlugins : this.filterPlugins.filter((pl) => !skipped.has(pl.name)));
    return { status: rejected, unschedulablePlugins };
  }

  /** RunFilterPlugins: the first plugin that rejects the node decides; plugins skipped at PreFilter do not run. */
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    const plugins = state.read<FilterPlugin[]>(activeFilterKey) ?? this.filterPlugins;
    for (let i = 0; i < plugins.length; i++) {
      const pl = plugins[i]!;
      const s = pl.filter(state, pod, nodeInfo);
      if (!s || s.isSuccess()) continue;
      if (!s.isRejected()) return Status.error(`running "${pl.name}" filter plugin: ${s.message()}`).withPlugin(pl.name);
      return s.withPlugin(pl.name);
    }
    return undefined;
  }

  /** RunPostFilterPlugins: the first success or unresolvable status wins; rejections are merged. */
  runPostFilterPlugins(state: CycleState, pod: Pod, nodeToStatus: Map<string, Status>): Status | undefined {
    const reasons: string[] = [];
    let rejector = '';
    for (const pl of this.postFilterPlugins) {
      const s = pl.postFilter(state, pod, nodeToStatus);
      if (!s || s.isSuccess()) return s;
      if (s.code === 'UnschedulableAndUnresolvable') return s.withPlugin(pl.name);
      if (!s.isRejected()) return Status.error(s.message()).withPlugin(pl.name);
      reasons.push(...s.reasons);
      rejector ||= pl.name;
    }
    return this.postFilterPlugins.length === 0 ? undefined : new Status('Unschedulable', ...reasons).withPlugin(rejector);
  }

  runPreScorePlugins(state: CycleState, pod: Pod, nodes: NodeInfo[]): Status | undefined {
    const skipped = new Set<string>();
    for (const pl of this.preScorePlugins) {
      const s = pl.preScore(state, pod, nodes);
      if (!s || s.isSuccess()) continue;
      if (s.isSkip()) {
        skipped.add(pl.name);
        continue;
      }
      return Status.error(`running PreScore plugin "${pl.name}": ${s.message()}`).withPlugin(pl.name);
    }
    state.write(skippedScoreKey, skipped);
    return undefined;
  }

  /** RunScorePlugins: score, normalize, check the range, apply the weight, and sum per node. */
  runScorePlugins(state: CycleState, pod: Pod, nodes: NodeInfo[]): NodePluginScores[] {
    const skipped = state.read<Set<string>>(skippedScoreKey);
    const result: NodePluginScores[] = new Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) result[i] = { name: nodes[i]!.name, scores: [], totalScore: 0 };
    for (const { plugin, weight } of this.scorePlugins) {
      if (skipped?.has(plugin.name)) continue;
      const scores: NodeScore[] = new Array(nodes.length);
      for (let i = 0; i < nodes.length; i++) scores[i] = { name: result[i]!.name, score: plugin.score(state, pod, nodes[i]!) };
      plugin.normalizeScore?.(state, pod, scores);
      for (let i = 0; i < scores.length; i++) {
        const score = scores[i]!.score;
        if (score > MaxNodeScore || score < MinNodeScore) {
          throw new Error(`plugin "${plugin.name}" returns an invalid score ${score}, it should in the range of [${MinNodeScore}, ${MaxNodeScore}] after normalizing`);
        }
        const weighted = score * weight;
        result[i]!.scores.push({ plugin: plugin.name, score: weighted });
        result[i]!.totalScore += weighted;
      }
    }
    return result;
  }

  runReservePluginsReserve(state: CycleState, pod: Pod, nodeName: string): Status | undefined {
    for (const pl of this.reservePlugins) {
      const s = pl.reserve(state, pod, nodeName);
      if (!s || s.isSuccess()) continue;
      if (s.isRejected()) return s.withPlugin(pl.name);
      return Status.error(`running Reserve plugin "${pl.name}": ${s.message()}`).withPlugin(pl.name);
    }
    return undefined;
  }

  /** Unreserve runs in reverse order and must be idempotent. */
  runReservePluginsUnreserve(state: CycleState, pod: Pod, nodeName: string): void {
    for (const pl of [...this.reservePlugins].reverse()) pl.unreserve(state, pod, nodeName);
  }

  async runPreBindPlugins(state: CycleState, pod: Pod, nodeName: string, signal: AbortSignal): Promise<Status | undefined> {
    for (const pl of this.preBindPlugins) {
      const s = await pl.preBind(state, pod, nodeName, signal);
      if (!s || s.isSuccess()) continue;
      if (s.isRejected()) return s.withPlugin(pl.name);
      return Status.error(`running PreBind plugin "${pl.name}": ${s.message()}`).withPlugin(pl.name);
    }
    return undefined;
  }

  async runBindPlugins(state: CycleState, pod: Pod, nodeName: string): Promise<Status | undefined> {
    for (const pl of this.bindPlugins) {
      const s = await pl.bind(state, pod, nodeName);
      if (s?.isSkip()) continue;
      if (!s || s.isSuccess()) return undefined;
      if (s.isRejected()) return s.withPlugin(pl.name);
      return Status.error(`running Bind plugin "${pl.name}": ${s.message()}`).withPlugin(pl.name);
    }
    return Status.error('no bind plugin bound the pod');
  }
}
