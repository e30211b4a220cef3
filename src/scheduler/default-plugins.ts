// The default profile (pkg/scheduler/apis/config/v1/default_plugins.go): plugins in upstream's order — which is
// the Filter order — and the default score weights.
import type { Plugin } from './framework/interfaces.ts';
import { Framework } from './framework/runtime.ts';
import type { ClusterObjects } from './cluster-objects.ts';
import * as names from './plugins/names.ts';
import { NodeUnschedulablePlugin } from './plugins/node-unschedulable/node-unschedulable.ts';
import { NodeNamePlugin } from './plugins/node-name/node-name.ts';
import { TaintTolerationPlugin } from './plugins/taint-toleration/taint-toleration.ts';
import { NodeAffinityPlugin } from './plugins/node-affinity/node-affinity.ts';
import { NodePortsPlugin } from './plugins/node-ports/node-ports.ts';
import { NodeResourcesFitPlugin } from './plugins/node-resources/fit.ts';
import { NodeResourcesBalancedAllocationPlugin } from './plugins/node-resources/balanced-allocation.ts';
import { VolumeRestrictionsPlugin } from './plugins/volume-restrictions/volume-restrictions.ts';
import { NodeVolumeLimitsPlugin } from './plugins/node-volume-limits/node-volume-limits.ts';
import { VolumeBindingPlugin, type VolumeBindingOptions } from './plugins/volume-binding/volume-binding.ts';
import type { VolumeBindingApi } from './plugins/volume-binding/binder.ts';
import { VolumeZonePlugin } from './plugins/volume-zone/volume-zone.ts';
import { DefaultPreemptionPlugin, type PreemptionHandle } from './plugins/default-preemption/default-preemption.ts';
import { DefaultBinderPlugin, type BindPod } from './plugins/default-binder/default-binder.ts';

/** Default score weights; plugins not listed weigh 1. */
export const defaultScoreWeights: Record<string, number> = {
  [names.TaintToleration]: 3,
  [names.NodeAffinity]: 2,
  [names.NodeResourcesFit]: 1,
  [names.VolumeBinding]: 1,
  [names.NodeResourcesBalancedAllocation]: 1,
};

export interface DefaultFrameworkDeps {
  objects: ClusterObjects;
  volumeApi: VolumeBindingApi;
  bindPod: BindPod;
  /** Resolved lazily: the preemption dry run needs the framework being built. */
  preemptionHandle: PreemptionHandle;
  volumeBinding?: VolumeBindingOptions;
}

export function defaultPlugins(deps: DefaultFrameworkDeps): Plugin[] {
  return [
    new NodeUnschedulablePlugin(),
    new NodeNamePlugin(),
    new TaintTolerationPlugin(),
    new NodeAffinityPlugin(),
    new NodePortsPlugin(),
    new NodeResourcesFitPlugin(),
    new VolumeRestrictionsPlugin(deps.objects),
    new NodeVolumeLimitsPlugin(deps.objects),
    new VolumeBindingPlugin(deps.objects, deps.volumeApi, deps.volumeBinding),
    new VolumeZonePlugin(deps.objects),
    new DefaultPreemptionPlugin(deps.preemptionHandle),
    new NodeResourcesBalancedAllocationPlugin(),
    new DefaultBinderPlugin(deps.bindPod),
  ];
}

export function newDefaultFramework(deps: DefaultFrameworkDeps): Framework {
  return new Framework(defaultPlugins(deps), defaultScoreWeights);
}
