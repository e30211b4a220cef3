// Discovery documents (aggregated v2 / v2beta1 and the legacy lists) and the minimal OpenAPI v3 that kubectl
// needs, all derived from the resource table.
import { createHash } from 'node:crypto';
import type { GroupVersion, ResourceDef } from './resources.ts';
import { groupVersions } from './resources.ts';

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-strata',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function subresourceVerbs(sub: string): string[] {
  if (sub === 'binding') return ['create'];
  if (sub === 'log') return ['get'];
  return ['get', 'patch', 'update'];
}

function subresourceKind(r: ResourceDef, sub: string): { group: string; version: string; kind: string } {
  if (sub === 'binding') return { group: '', version: 'v1', kind: 'Binding' };
  if (sub === 'log') return { group: '', version: 'v1', kind: 'Pod' };
  return { group: r.group, version: r.version, kind: r.kind };
}

function aggregatedResource(r: ResourceDef) {
  const out: Record<string, unknown> = {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
  };
  if (r.shortNames) out.shortNames = r.shortNames;
  if (r.categories) out.categories = r.categories;
  if (r.subresources.length) {
    out.subresources = r.subresources.map((s) => ({ subresource: s, responseKind: subresourceKind(r, s), verbs: subresourceVerbs(s) }));
  }
  return out;
}

function aggregatedGroup(name: string, gvs: GroupVersion[]) {
  return {
    metadata: { name, creationTimestamp: null },
    versions: gvs.map((gv) => ({ version: gv.version, resources: gv.resources.map(aggregatedResource), freshness: 'Current' })),
  };
}

/** Aggregated discovery for /api (core only) or /apis (every named group). */
export function aggregatedDiscovery(core: boolean, version: 'v2' | 'v2beta1') {
  const byGroup = new Map<string, GroupVersion[]>();
  for (const gv of groupVersions()) {
    if ((gv.group === '') !== core) continue;
    const list = byGroup.get(gv.group) ?? [];
    list.push(gv);
    byGroup.set(gv.group, list);
  }
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: [...byGroup.entries()].map(([g, gvs]) => aggregatedGroup(g, gvs)),
  };
}

export function legacyAPIVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(group: string) {
  const gvs = groupVersions().filter((gv) => gv.group === group);
  const versions = gvs.map((gv) => ({ groupVersion: `${group}/${gv.version}`, version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

export function apiGroupList() {
  const groups = [...new Set(groupVersions().map((gv) => gv.group).filter((g) => g !== ''))];
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(apiGroup) };
}

export function apiGroupDoc(group: string) {
  if (!groupVersions().some((gv) => gv.group === group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) };
}

export function apiResourceList(group: string, version: string) {
  const gv = groupVersions().find((g) => g.group === group && g.version === version);
  if (!gv) return undefined;
  const resources: Array<Record<string, unknown>> = [];
  for (const r of gv.resources) {
    const entry: Record<string, unknown> = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs };
    if (r.shortNames) entry.shortNames = r.shortNames;
    if (r.categories) entry.categories = r.categories;
    entry.storageVersionHash = createHash('sha256').update(`${r.group}/${r.version}/${r.kind}`).digest('base64').slice(0, 11);
    resources.push(entry);
    for (const s of r.subresources) {
      const k = subresourceKind(r, s);
      resources.push({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: k.kind, verbs: subresourceVerbs(s) });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function gvPath(gv: { group: string; version: string }): string {
  return gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`;
}

function openapiDoc(gv: GroupVersion) {
  const paths: Record<string, unknown> = {};
  for (const r of gv.resources) {
    const base = `/${gvPath(gv)}/${r.namespaced ? 'namespaces/{namespace}/' : ''}${r.plural}/{name}`;
    const op = (verb: string) => ({
      'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
      'x-kubernetes-action': verb,
      parameters: [
        { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
      ],
      responses: { '200': { description: 'OK' } },
    });
    paths[base] = { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: VERSION_INFO.gitVersion }, paths, components: { schemas: {} } };
}

const openapiDocs = new Map<string, { json: string; hash: string }>();
for (const gv of groupVersions()) {
  const json = JSON.stringify(openapiDoc(gv));
  openapiDocs.set(gvPath(gv), { json, hash: createHash('sha512').update(json).digest('hex').slice(0, 128).toUpperCase() });
}

export function openapiIndex() {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [p, d] of openapiDocs) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${d.hash}` };
  return { paths };
}

export function openapiGroupVersion(path: string): string | undefined {
  return openapiDocs.get(path)?.json;
}

