// core/v1 Event: legacyValidateEvent, the only check ValidateEventCreate/Update run for core/v1 requests. ObjectMeta
// gets only the generic pass (path-segment names).
import type { KubeObject } from '../types.ts';
import { type FieldError, invalid, required } from '../field-errors.ts';
import { isDNS1123Subdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateQualifiedName } from './meta.ts';
import { obj, str } from './util.ts';

const reportingInstanceLengthLimit = 128;
const actionLengthLimit = 128;
const reasonLengthLimit = 128;
const noteLengthLimit = 1024;

function validateEvent(event: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const namespace = str(event.metadata?.namespace);
  const involvedNamespace = str(obj(event.involvedObject).namespace);
  const mismatch = () => invalid('involvedObject.namespace', involvedNamespace, 'does not match event.namespace');
  if (!event.eventTime) {
    // Old-style events: the involved object's namespace must agree ("default" allowed for cluster-scoped objects).
    if (involvedNamespace.length === 0) {
      if (namespace !== '' && namespace !== 'default') errs.push(mismatch());
    } else if (namespace !== involvedNamespace) {
      errs.push(mismatch());
    }
  } else {
    if (involvedNamespace.length === 0 && namespace !== 'default' && namespace !== 'kube-system') errs.push(mismatch());
    const reportingComponent = str(event.reportingComponent);
    if (reportingComponent.length === 0) errs.push(required('reportingComponent'));
    errs.push(...validateQualifiedName(reportingComponent, 'reportingComponent'));
    const limits: Array<[string, number]> = [
      ['reportingInstance', reportingInstanceLengthLimit],
      ['action', actionLengthLimit],
      ['reason', reasonLengthLimit],
    ];
    for (const [field, limit] of limits) {
      const value = str(event[field]);
      if (value.length === 0) errs.push(required(field));
      if (value.length > limit) errs.push(invalid(field, '', `can have at most ${limit} characters`));
    }
    if (str(event.message).length > noteLengthLimit) errs.push(invalid('message', '', `can have at most ${noteLengthLimit} characters`));
  }
  for (const msg of isDNS1123Subdomain(namespace)) errs.push(invalid('namespace', namespace, msg));
  return errs;
}

export const eventRules: KindRules = {
  namespaced: true,
  schema: 'CoreV1Event',
  validateCreate: validateEvent,
  validateUpdate: (event) => validateEvent(event),
};
