// Field selectors as k8s.io/apimachinery/pkg/fields parses them, and the per-kind field labels the API server accepts
// (the field label conversion functions) and exposes (the registries' ToSelectableFields).
import type { KubeObject } from './types.ts';

export class FieldSelectorParseError extends Error {
  override name = 'FieldSelectorParseError';
}

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export interface FieldSelector {
  readonly requirements: FieldRequirement[];
  /** `get` returns a field's value; a missing field reads as "" (fields.Set.Get). */
  matches(get: (field: string) => string | undefined): boolean;
}

/** Splits on commas that are not backslash-escaped; the escapes stay in the terms. */
function splitTerms(selector: string): string[] {
  if (selector.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

// "==" before "=" so no "=" is left on the value; the first operator found splits the term (keys have no escapes).
const termOperators = ['!=', '==', '='] as const;
function splitTerm(term: string): { lhs: string; op: (typeof termOperators)[number]; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of termOperators) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

function unescapeValue(s: string): string {
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') throw new FieldSelectorParseError(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') {
      // Go prints the rune with %v: its code point.
      throw new FieldSelectorParseError(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else out += c;
  }
  if (inSlash) throw new FieldSelectorParseError('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** fields.ParseSelector. Terms come out sorted, as upstream sorts them. */
export function parseFieldSelector(selector: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  for (const part of splitTerms(selector).sort()) {
    if (part === '') continue;
    const term = splitTerm(part);
    if (!term) throw new FieldSelectorParseError(`invalid selector: '${selector}'; can't understand '${part}'`);
    requirements.push({ field: term.lhs, operator: term.op === '!=' ? '!=' : '=', value: unescapeValue(term.rhs) });
  }
  return {
    requirements,
    matches: (get) => requirements.every((r) => ((get(r.field) ?? '') === r.value) === (r.operator === '=')),
  };
}

// ---- per-kind field labels ----

const metadataFields = ['metadata.name', 'metadata.namespace'];

/** Labels each built-in kind's field label conversion function accepts (pkg/apis/core/v1/conversion.go). */
const supportedFieldsByKind: Record<string, readonly string[]> = {
  Pod: [
    ...metadataFields, 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
    'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.podIPs', 'status.nominatedNodeName', 'spec.host',
  ],
  Node: ['metadata.name', 'spec.unschedulable'],
  Event: [
    'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
    'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason',
    'reportingComponent', 'source', 'type', ...metadataFields,
  ],
  Namespace: ['status.phase', 'metadata.name'],
  Secret: ['type', ...metadataFields],
  Service: [...metadataFields, 'spec.clusterIP', 'spec.type'],
};

/** Custom resources (the snapshot CRDs) go through the CRD converter, which knows the scope. */
const customResourceScope: Record<string, 'Namespaced' | 'Cluster'> = {
  VolumeSnapshot: 'Namespaced',
  VolumeSnapshotContent: 'Cluster',
  VolumeSnapshotClass: 'Cluster',
};

/** The API server's rejection of a field label for a kind (answered as 400 BadRequest with this message). */
export function unsupportedFieldMessage(field: string, kind: string): string {
  if (Object.hasOwn(supportedFieldsByKind, kind) || Object.hasOwn(customResourceScope, kind)) {
    return `field label not supported: ${field}`;
  }
  return `${JSON.stringify(field)} is not a known field selector: only "metadata.name", "metadata.namespace"`;
}

function isSupportedField(kind: string, field: string): boolean {
  if (Object.hasOwn(supportedFieldsByKind, kind)) return supportedFieldsByKind[kind]!.includes(field);
  if (Object.hasOwn(customResourceScope, kind)) {
    return field === 'metadata.name' || (field === 'metadata.namespace' && customResourceScope[kind] === 'Namespaced');
  }
  return metadataFields.includes(field);
}

/** The message the API server rejects this selector with for `kind`, or undefined when every label is supported. */
export function validateFieldSelectorForKind(kind: string, selector: FieldSelector): string | undefined {
  const unsupported = selector.requirements.find((r) => !isSupportedField(kind, r.field));
  return unsupported ? unsupportedFieldMessage(unsupported.field, kind) : undefined;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const record = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/** The selectable field values of an object of `kind` (missing fields read as ""). */
export function fieldsForObject(kind: string, obj: KubeObject): Record<string, string> {
  const fields: Record<string, string> = {
    'metadata.name': obj.metadata.name ?? '',
    'metadata.namespace': obj.metadata.namespace ?? '',
  };
  const spec = record(obj['spec']);
  const status = record(obj['status']);
  switch (kind) {
    case 'Pod': {
      const podIPs = Array.isArray(status['podIPs']) ? (status['podIPs'] as unknown[]) : [];
      Object.assign(fields, {
        'spec.nodeName': str(spec['nodeName']),
        // Old v1 clients send spec.host; upstream converts it to spec.nodeName.
        'spec.host': str(spec['nodeName']),
        'spec.restartPolicy': str(spec['restartPolicy']),
        'spec.schedulerName': str(spec['schedulerName']),
        'spec.serviceAccountName': str(spec['serviceAccountName']),
        'spec.hostNetwork': String(spec['hostNetwork'] === true),
        'status.phase': str(status['phase']),
        'status.podIP': podIPs.length > 0 ? str(record(podIPs[0])['ip']) : str(status['podIP']),
        'status.nominatedNodeName': str(status['nominatedNodeName']),
      });
      break;
    }
    case 'Node':
      fields['spec.unschedulable'] = String(spec['unschedulable'] === true);
      break;
    case 'Event': {
      const involved = record(obj['involvedObject']);
      const reportingController = str(obj['reportingComponent']);
      Object.assign(fields, {
        'involvedObject.kind': str(involved['kind']),
        'involvedObject.namespace': str(involved['namespace']),
        'involvedObject.name': str(involved['name']),
        'involvedObject.uid': str(involved['uid']),
        'involvedObject.apiVersion': str(involved['apiVersion']),
        'involvedObject.resourceVersion': str(involved['resourceVersion']),
        'involvedObject.fieldPath': str(involved['fieldPath']),
        reason: str(obj['reason']),
        reportingComponent: reportingController,
        source: str(record(obj['source'])['component']) || reportingController,
        type: str(obj['type']),
      });
      break;
    }
    case 'Namespace':
      fields['status.phase'] = str(status['phase']);
      break;
    case 'Secret':
      fields['type'] = str(obj['type']);
      break;
    case 'Service':
      fields['spec.clusterIP'] = str(spec['clusterIP']);
      fields['spec.type'] = str(spec['type']);
      break;
  }
  return fields;
}
