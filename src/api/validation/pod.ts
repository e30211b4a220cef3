// core/v1 Pod: ValidatePodCreate / ValidatePodUpdate / ValidatePodStatusUpdate (the parts a storage control plane
// exercises), SetDefaults_Pod{,Spec}/Container/Volume/Probe, the strategy's PrepareForCreate and the
// DefaultTolerationSeconds admission plugin.
import type { KubeObject, Pod } from '../types.ts';
import {
  type FieldError,
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  key,
  notFound,
  notSupported,
  required,
} from '../field-errors.ts';
import { inclusiveRangeError, isDNS1123Label, isDNS1123Subdomain, isRelaxedEnvVarName, isValidPortName, isValidPortNum, nameIsDNSSubdomain } from '../names.ts';
import { validateLabelValue } from '../labels.ts';
import { compareQuantity, formatQuantity } from '../quantity.ts';
import type { KindRules } from './rules.ts';
import {
  parseQuantityAt,
  validateHostPathVolumeSource,
  validateNodeName,
  validateNodeSelector,
  validateNodeSelectorTerm,
  validateNonnegativeQuantity,
} from './common.ts';
import { validateLabelName, validateLabels, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { validateTaintEffect } from './node.ts';
import { validatePersistentVolumeClaimSpec } from './persistentvolumeclaim.ts';
import { cloneJSON } from '../json.ts';
import { arr, isObject, obj, semanticEqual, specDiff, str, type JsonObject } from './util.ts';

const maxInt32 = 2147483647;

// ---------------- defaulting ----------------

// parsers.ParseImageName: no tag and no digest means "latest".
function imageTag(image: string): string {
  const [name, digest] = image.split('@');
  const lastSegment = name!.slice(name!.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (colon >= 0) return lastSegment.slice(colon + 1);
  return digest === undefined ? 'latest' : '';
}

function defaultProbe(probe: unknown): void {
  if (!isObject(probe)) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
}

function defaultContainer(container: JsonObject): void {
  if (!container.imagePullPolicy) container.imagePullPolicy = imageTag(str(container.image)) === 'latest' ? 'Always' : 'IfNotPresent';
  if (!container.terminationMessagePath) container.terminationMessagePath = '/dev/termination-log';
  if (!container.terminationMessagePolicy) container.terminationMessagePolicy = 'File';
  for (const port of arr(container.ports).filter(isObject)) if (!port.protocol) port.protocol = 'TCP';
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(container[probe]);
  // Requests default to the limits for any resource that has only a limit.
  if (isObject(container.resources) && isObject(container.resources.limits)) {
    const requests = isObject(container.resources.requests) ? container.resources.requests : {};
    for (const [name, value] of Object.entries(container.resources.limits)) if (!(name in requests)) requests[name] = value;
    container.resources.requests = requests;
  }
}

const podVolumeSources = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile',
  'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume',
  'scaleIO', 'storageos', 'csi', 'ephemeral', 'image',
];

function defaultVolume(volume: JsonObject): void {
  if (!podVolumeSources.some((s) => volume[s] !== undefined && volume[s] !== null)) volume.emptyDir = {};
  for (const source of ['secret', 'configMap', 'downwardAPI', 'projected']) {
    const v = volume[source];
    if (isObject(v) && v.defaultMode === undefined) v.defaultMode = 420;
  }
  if (isObject(volume.hostPath) && volume.hostPath.type === undefined) volume.hostPath.type = '';
  if (isObject(volume.persistentVolumeClaim) || isObject(volume.ephemeral)) {
    const template = obj(obj(volume.ephemeral).volumeClaimTemplate);
    if (isObject(template.spec) && template.spec.volumeMode === undefined) template.spec.volumeMode = 'Filesystem';
  }
}

function applyDefaults(pod: KubeObject): void {
  if (!isObject(pod.spec)) return;
  const spec = pod.spec;
  if (!spec.dnsPolicy) spec.dnsPolicy = 'ClusterFirst';
  if (!spec.restartPolicy) spec.restartPolicy = 'Always';
  if (spec.securityContext === undefined || spec.securityContext === null) spec.securityContext = {};
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) spec.terminationGracePeriodSeconds = 30;
  if (!spec.schedulerName) spec.schedulerName = 'default-scheduler';
  if (spec.enableServiceLinks === undefined || spec.enableServiceLinks === null) spec.enableServiceLinks = true;
  for (const c of [...arr(spec.initContainers), ...arr(spec.containers)].filter(isObject)) defaultContainer(c);
  if (spec.hostNetwork === true) {
    for (const c of [...arr(spec.initContainers), ...arr(spec.containers)].filter(isObject)) {
      for (const port of arr(c.ports).filter(isObject)) if (port.hostPort === undefined) port.hostPort = port.containerPort;
    }
  }
  for (const v of arr(spec.volumes).filter(isObject)) defaultVolume(v);
}

// QoS class as qos.GetPodQOS computes it from requests and limits.
function qosClass(spec: JsonObject): string {
  let any = false;
  let guaranteed = true;
  for (const c of [...arr(spec.initContainers), ...arr(spec.containers)]) {
    const resources = obj(obj(c).resources);
    const requests = obj(resources.requests);
    const limits = obj(resources.limits);
    for (const name of ['cpu', 'memory']) {
      if (name in requests || name in limits) any = true;
      if (!(name in limits) || (name in requests && str(requests[name]) !== str(limits[name]))) guaranteed = false;
    }
  }
  return !any ? 'BestEffort' : guaranteed ? 'Guaranteed' : 'Burstable';
}

function prepareForCreate(pod: KubeObject): void {
  const spec = obj(pod.spec);
  const status: JsonObject = { phase: 'Pending', qosClass: qosClass(spec) };
  if (arr(spec.schedulingGates).length > 0) {
    status.conditions = [
      { type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' },
    ];
  }
  pod.status = status;
  // The Priority admission plugin: no PriorityClass in play, so priority 0.
  if (isObject(pod.spec) && pod.spec.priority === undefined) pod.spec.priority = 0;
}

// The DefaultTolerationSeconds admission plugin: tolerate not-ready/unreachable nodes for 300s unless the pod
// already tolerates them. Run on pod create.
export function defaultTolerationSeconds(pod: KubeObject, seconds = 300): void {
  if (!isObject(pod.spec)) return;
  const tolerations = arr(pod.spec.tolerations).filter(isObject);
  const tolerates = (taintKey: string) =>
    tolerations.some((t) => (t.key === taintKey || !t.key) && (t.effect === 'NoExecute' || !t.effect));
  const added = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']
    .filter((taintKey) => !tolerates(taintKey))
    .map((taintKey) => ({ key: taintKey, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds }));
  if (added.length > 0) pod.spec.tolerations = [...tolerations, ...added];
}

// ---------------- validation ----------------

function dns1123Label(value: string, path: string): FieldError[] {
  return isDNS1123Label(value).map((msg) => invalid(path, value, msg));
}

function validateVolumes(volumes: unknown[], path: string): { names: Set<string>; errs: FieldError[] } {
  const names = new Set<string>();
  const errs: FieldError[] = [];
  volumes.forEach((raw, i) => {
    const volume = obj(raw);
    const p = index(path, i);
    const name = str(volume.name);
    const volumeErrs: FieldError[] = [];
    let numVolumes = 0;
    for (const source of podVolumeSources) {
      const value = volume[source];
      if (value === undefined || value === null) continue;
      if (numVolumes > 0) {
        volumeErrs.push(forbidden(child(p, source), 'may not specify more than 1 volume type'));
        continue;
      }
      numVolumes++;
      if (source === 'hostPath') volumeErrs.push(...validateHostPathVolumeSource(value, child(p, source)));
      if (source === 'persistentVolumeClaim' && str(obj(value).claimName).length === 0) {
        volumeErrs.push(required(child(p, source, 'claimName')));
      }
      if (source === 'ephemeral') {
        const template = obj(value).volumeClaimTemplate;
        const templatePath = child(p, source, 'volumeClaimTemplate');
        if (!isObject(template)) volumeErrs.push(required(templatePath));
        else volumeErrs.push(...validatePersistentVolumeClaimSpec(template.spec, child(templatePath, 'spec')));
      }
      if (source === 'emptyDir' && obj(value).sizeLimit !== undefined) {
        const { quantity, errs: parseErrs } = parseQuantityAt(obj(value).sizeLimit, child(p, source, 'sizeLimit'));
        volumeErrs.push(...parseErrs);
        if (quantity && quantity.nano < 0n) {
          volumeErrs.push(forbidden(child(p, source, 'sizeLimit'), 'SizeLimit field must be a valid resource quantity'));
        }
      }
    }
    if (numVolumes === 0) volumeErrs.push(required(p, 'must specify a volume type'));
    if (name.length === 0) volumeErrs.push(required(child(p, 'name')));
    else volumeErrs.push(...dns1123Label(name, child(p, 'name')));
    if (names.has(name)) volumeErrs.push(duplicate(child(p, 'name'), name));
    if (volumeErrs.length === 0) names.add(name);
    errs.push(...volumeErrs);
  });
  return { names, errs };
}

const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage']);
// Native resources are unprefixed or kubernetes.io/-prefixed; all but hugepages may be overcommitted.
function isOvercommitAllowed(name: string): boolean {
  const native = !name.includes('/') || name.includes('kubernetes.io/');
  return native && !name.startsWith('hugepages-');
}

function validateResources(raw: unknown, path: string): FieldError[] {
  const resources = obj(raw);
  const limits = obj(resources.limits);
  const requests = obj(resources.requests);
  const limitsPath = child(path, 'limits');
  const requestsPath = child(path, 'requests');
  const errs: FieldError[] = [];
  const validateName = (name: string, p: string) => {
    if (!name.includes('/') && !standardContainerResources.has(name) && !name.startsWith('hugepages-')) {
      errs.push(invalid(p, name, 'must be a standard resource for containers'));
    }
  };
  const parsedLimits = new Map<string, ReturnType<typeof parseQuantityAt>['quantity']>();
  for (const [name, value] of Object.entries(limits)) {
    const p = key(limitsPath, name);
    validateName(name, p);
    const { quantity, errs: parseErrs } = parseQuantityAt(value, p);
    errs.push(...parseErrs);
    if (quantity) errs.push(...validateNonnegativeQuantity(quantity, p));
    parsedLimits.set(name, quantity);
  }
  for (const [name, value] of Object.entries(requests)) {
    const p = key(requestsPath, name);
    validateName(name, p);
    const { quantity, errs: parseErrs } = parseQuantityAt(value, p);
    errs.push(...parseErrs);
    if (!quantity) continue;
    errs.push(...validateNonnegativeQuantity(quantity, p));
    const limit = parsedLimits.get(name);
    if (limit) {
      const cmp = compareQuantity(quantity, limit);
      if (cmp !== 0 && !isOvercommitAllowed(name)) {
        errs.push(invalid(requestsPath, formatQuantity(quantity), `must be equal to ${name} limit of ${formatQuantity(limit)}`));
      } else if (cmp > 0) {
        errs.push(invalid(requestsPath, formatQuantity(quantity), `must be less than or equal to ${name} limit of ${formatQuantity(limit)}`));
      }
    } else if (!(name in limits) && !isOvercommitAllowed(name)) {
      errs.push(required(limitsPath, 'Limit must be set for non overcommitable resources'));
    }
  }
  return errs;
}

const pullPolicies = ['Always', 'IfNotPresent', 'Never'];
const terminationMessagePolicies = ['File', 'FallbackToLogsOnError'];
const protocols = ['SCTP', 'TCP', 'UDP'];

function validateContainer(raw: unknown, volumes: Set<string>, path: string): FieldError[] {
  const c = obj(raw);
  const errs: FieldError[] = [];
  const name = str(c.name);
  if (name.length === 0) errs.push(required(child(path, 'name')));
  else errs.push(...dns1123Label(name, child(path, 'name')));
  if (str(c.image).length === 0) errs.push(required(child(path, 'image')));
  const tmp = str(c.terminationMessagePolicy);
  if (tmp.length === 0) errs.push(required(child(path, 'terminationMessagePolicy')));
  else if (!terminationMessagePolicies.includes(tmp)) errs.push(notSupported(child(path, 'terminationMessagePolicy'), tmp, terminationMessagePolicies));

  const portNames = new Set<string>();
  arr(c.ports).forEach((rawPort, i) => {
    const port = obj(rawPort);
    const p = index(child(path, 'ports'), i);
    const portName = str(port.name);
    if (portName.length > 0) {
      const msgs = isValidPortName(portName);
      if (msgs.length > 0) msgs.forEach((msg) => errs.push(invalid(child(p, 'name'), portName, msg)));
      else if (portNames.has(portName)) errs.push(duplicate(child(p, 'name'), portName));
      else portNames.add(portName);
    }
    const containerPort = typeof port.containerPort === 'number' ? port.containerPort : 0;
    if (containerPort === 0) errs.push(required(child(p, 'containerPort')));
    else for (const msg of isValidPortNum(containerPort)) errs.push(invalid(child(p, 'containerPort'), containerPort, msg));
    if (typeof port.hostPort === 'number' && port.hostPort !== 0) {
      for (const msg of isValidPortNum(port.hostPort)) errs.push(invalid(child(p, 'hostPort'), port.hostPort, msg));
    }
    const protocol = str(port.protocol);
    if (protocol.length === 0) errs.push(required(child(p, 'protocol')));
    else if (!protocols.includes(protocol)) errs.push(notSupported(child(p, 'protocol'), protocol, protocols));
  });
  arr(c.env).forEach((rawEnv, i) => {
    const envName = str(obj(rawEnv).name);
    const p = child(index(child(path, 'env'), i), 'name');
    if (envName.length === 0) errs.push(required(p));
    else for (const msg of isRelaxedEnvVarName(envName)) errs.push(invalid(p, envName, msg));
  });
  const mountPoints = new Set<string>();
  arr(c.volumeMounts).forEach((rawMount, i) => {
    const mount = obj(rawMount);
    const p = index(child(path, 'volumeMounts'), i);
    const mountName = str(mount.name);
    const mountPath = str(mount.mountPath);
    if (mountName.length === 0) errs.push(required(child(p, 'name')));
    if (!volumes.has(mountName)) errs.push(notFound(child(p, 'name'), mountName));
    if (mountPath.length === 0) errs.push(required(child(p, 'mountPath')));
    if (mountPoints.has(mountPath)) errs.push(invalid(child(p, 'mountPath'), mountPath, 'must be unique'));
    mountPoints.add(mountPath);
  });
  const pullPolicy = str(c.imagePullPolicy);
  if (pullPolicy.length === 0) errs.push(required(child(path, 'imagePullPolicy')));
  else if (!pullPolicies.includes(pullPolicy)) errs.push(notSupported(child(path, 'imagePullPolicy'), pullPolicy, pullPolicies));
  errs.push(...validateResources(c.resources, child(path, 'resources')));
  return errs;
}

function validateContainers(containers: unknown[], volumes: Set<string>, path: string, otherNames: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const p = index(path, i);
    errs.push(...validateContainer(c, volumes, p));
    const name = str(obj(c).name);
    if (names.has(name) || otherNames.has(name)) errs.push(duplicate(child(p, 'name'), name));
    else names.add(name);
  });
  return errs;
}

function validateTolerations(tolerations: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  tolerations.forEach((raw, i) => {
    const t = obj(raw);
    const p = index(path, i);
    const tKey = str(t.key);
    const operator = str(t.operator);
    const effect = str(t.effect);
    if (tKey.length > 0) errs.push(...validateLabelName(tKey, child(p, 'key')));
    if (tKey.length === 0 && operator !== 'Exists') {
      errs.push(invalid(child(p, 'operator'), operator, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && effect !== 'NoExecute') {
      errs.push(invalid(child(p, 'effect'), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (operator === 'Equal' || operator === '') {
      const msgs = validateLabelValue(str(t.value));
      if (msgs.length > 0) errs.push(invalid(child(p, 'operator'), str(t.value), msgs.join(';')));
    } else if (operator === 'Exists') {
      if (str(t.value).length > 0) errs.push(invalid(child(p, 'operator'), t, "value must be empty when `operator` is 'Exists'"));
    } else {
      errs.push(notSupported(child(p, 'operator'), operator, ['Equal', 'Exists']));
    }
    if (effect.length > 0) errs.push(...validateTaintEffect(effect, true, child(p, 'effect')));
  });
  return errs;
}

function validateAffinity(raw: unknown, path: string): FieldError[] {
  const nodeAffinity = obj(obj(raw).nodeAffinity);
  const naPath = child(path, 'nodeAffinity');
  const errs: FieldError[] = [];
  const requiredTerms = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  if (isObject(requiredTerms)) errs.push(...validateNodeSelector(requiredTerms, child(naPath, 'requiredDuringSchedulingIgnoredDuringExecution')));
  arr(nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).forEach((rawTerm, i) => {
    const term = obj(rawTerm);
    const p = index(child(naPath, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
    const weight = typeof term.weight === 'number' ? term.weight : 0;
    if (weight <= 0 || weight > 100) errs.push(invalid(child(p, 'weight'), weight, 'must be in the range 1-100'));
    errs.push(...validateNodeSelectorTerm(term.preference, child(p, 'preference')));
  });
  return errs;
}

function validatePodSpec(specValue: unknown, path: string): FieldError[] {
  const spec = obj(specValue);
  const { names: volumes, errs } = validateVolumes(arr(spec.volumes), child(path, 'volumes'));
  const containerNames = new Set(arr(spec.containers).map((c) => str(obj(c).name)));
  errs.push(...validateContainers(arr(spec.initContainers), volumes, child(path, 'initContainers'), containerNames));
  if (arr(spec.containers).length === 0) errs.push(required(child(path, 'containers')));
  errs.push(...validateContainers(arr(spec.containers), volumes, child(path, 'containers'), new Set()));

  const restartPolicy = str(spec.restartPolicy);
  const restartPolicies = ['Always', 'OnFailure', 'Never'];
  if (restartPolicy.length === 0) errs.push(required(child(path, 'restartPolicy')));
  else if (!restartPolicies.includes(restartPolicy)) errs.push(notSupported(child(path, 'restartPolicy'), restartPolicy, restartPolicies));
  const dnsPolicy = str(spec.dnsPolicy);
  const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
  if (dnsPolicy.length === 0) errs.push(required(child(path, 'dnsPolicy')));
  else if (!dnsPolicies.includes(dnsPolicy)) errs.push(notSupported(child(path, 'dnsPolicy'), dnsPolicy, dnsPolicies));

  errs.push(...validateLabels(spec.nodeSelector, child(path, 'nodeSelector')));
  const nodeName = str(spec.nodeName);
  if (nodeName.length > 0) for (const msg of validateNodeName(nodeName, false)) errs.push(invalid(child(path, 'nodeName'), nodeName, msg));
  if (isObject(spec.affinity)) errs.push(...validateAffinity(spec.affinity, child(path, 'affinity')));
  errs.push(...validateTolerations(arr(spec.tolerations), child(path, 'tolerations')));
  if (typeof spec.activeDeadlineSeconds === 'number' && (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > maxInt32)) {
    errs.push(invalid(child(path, 'activeDeadlineSeconds'), spec.activeDeadlineSeconds, inclusiveRangeError(1, maxInt32)));
  }
  for (const field of ['hostname', 'subdomain']) {
    const value = str(spec[field]);
    if (value.length > 0) errs.push(...dns1123Label(value, child(path, field)));
  }
  for (const field of ['priorityClassName', 'schedulerName']) {
    const value = str(spec[field]);
    if (value.length > 0) for (const msg of isDNS1123Subdomain(value)) errs.push(invalid(child(path, field), value, msg));
  }
  return errs;
}

function validateCreate(pod: KubeObject): FieldError[] {
  const errs = validateObjectMeta(pod.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true });
  errs.push(...validatePodSpec(pod.spec, 'spec'));
  if (arr(obj(pod.spec).ephemeralContainers).length > 0) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'));
  return errs;
}

const updatablePodSpecFields = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

function validateContainerUpdates(newContainers: unknown[], oldContainers: unknown[], path: string): { errs: FieldError[]; stop: boolean } {
  if (newContainers.length !== oldContainers.length) return { errs: [forbidden(path, 'pod updates may not add or remove containers')], stop: true };
  const errs: FieldError[] = [];
  newContainers.forEach((c, i) => {
    if (str(obj(c).image).length === 0) errs.push(required(child(index(path, i), 'image')));
  });
  return { errs, stop: false };
}

// Existing tolerations must stay (only their tolerationSeconds may change); new ones may be added.
function validateOnlyAddedTolerations(newTolerations: unknown[], oldTolerations: unknown[], path: string): FieldError[] {
  const withoutSeconds = (t: unknown) => ({ ...obj(t), tolerationSeconds: undefined });
  for (const oldT of oldTolerations) {
    if (!newTolerations.some((newT) => semanticEqual(withoutSeconds(oldT), withoutSeconds(newT)))) {
      return [forbidden(path, 'existing toleration can not be modified except its tolerationSeconds')];
    }
  }
  return [];
}

function validateUpdate(newObj: KubeObject, oldObj: KubeObject): FieldError[] {
  const newPod = newObj as Pod;
  const oldPod = oldObj as Pod;
  const errs = [...validateObjectMetaUpdate(newPod.metadata, oldPod.metadata, true), ...validateObjectMeta(newPod.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true }), ...validatePodSpec(newPod.spec, 'spec')];
  const newSpec = obj(newPod.spec);
  const oldSpec = obj(oldPod.spec);
  for (const field of ['containers', 'initContainers']) {
    const { errs: containerErrs, stop } = validateContainerUpdates(arr(newSpec[field]), arr(oldSpec[field]), child('spec', field));
    errs.push(...containerErrs);
    if (stop) return errs;
  }
  if (typeof newSpec.activeDeadlineSeconds === 'number') {
    const value = newSpec.activeDeadlineSeconds;
    if (value < 0 || value > maxInt32) {
      errs.push(invalid('spec.activeDeadlineSeconds', value, inclusiveRangeError(0, maxInt32)));
      return errs;
    }
    if (typeof oldSpec.activeDeadlineSeconds === 'number' && oldSpec.activeDeadlineSeconds < value) {
      errs.push(invalid('spec.activeDeadlineSeconds', value, 'must be less than or equal to previous value'));
      return errs;
    }
  } else if (typeof oldSpec.activeDeadlineSeconds === 'number') {
    errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }
  errs.push(...validateOnlyAddedTolerations(arr(newSpec.tolerations), arr(oldSpec.tolerations), 'spec.tolerations'));
  const oldGates = new Set(arr(oldSpec.schedulingGates).map((g) => str(obj(g).name)));
  arr(newSpec.schedulingGates).forEach((g, i) => {
    const gate = str(obj(g).name);
    if (!oldGates.has(gate)) {
      errs.push(forbidden(child(index('spec.schedulingGates', i), 'name'), `only deletion is allowed, but found new scheduling gate '${gate}'`));
    }
  });
  if (semanticEqual(newSpec, oldSpec)) return errs;

  // Put the updatable fields back to their old values; whatever still differs may not change.
  const munged = cloneJSON(newSpec);
  for (const field of ['containers', 'initContainers']) {
    arr(munged[field]).forEach((c, i) => {
      const oldImage = obj(arr(oldSpec[field])[i]).image;
      if (isObject(c)) c.image = oldImage;
    });
  }
  munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
  munged.schedulingGates = oldSpec.schedulingGates;
  munged.tolerations = oldSpec.tolerations;
  if (typeof oldSpec.terminationGracePeriodSeconds === 'number' && oldSpec.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldSpec.terminationGracePeriodSeconds;
  }
  if (!semanticEqual(munged, oldSpec)) {
    errs.push(
      forbidden('spec', `pod updates may not change fields other than ${updatablePodSpecFields.join(',')}\n${specDiff(oldSpec, munged).join('\n')}`),
    );
  }
  return errs;
}

function validateStatusUpdate(newObj: KubeObject, oldObj: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(newObj.metadata, oldObj.metadata, true);
  if (str(obj(newObj.spec).nodeName) !== str(obj(oldObj.spec).nodeName)) errs.push(forbidden('status.nodeName', 'may not be changed directly'));
  return errs;
}

export const podRules: KindRules = {
  namespaced: true,
  schema: 'V1Pod',
  applyDefaults,
  prepareForCreate,
  validateCreate,
  validateUpdate,
  validateStatusUpdate,
};
