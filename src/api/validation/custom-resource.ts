// How the apiserver validates a custom resource: apimachinery ObjectMeta rules, then the CRD's structural schema
// and its CEL rules (the update pass sees the old object, for transition rules).
import type { KubeObject } from '../types.ts';
import { nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateAgainstSchema, type SchemaNode } from './schema.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';

export function customResourceRules(schema: SchemaNode, namespaced: boolean): KindRules {
  const validateCreate = (cr: KubeObject) => [
    ...validateObjectMeta(cr.metadata, { namespaced, nameFn: nameIsDNSSubdomain, kubeFinalizers: false }),
    ...validateAgainstSchema(schema, cr),
  ];
  const validateUpdate = (cr: KubeObject, old: KubeObject) => [
    ...validateObjectMetaUpdate(cr.metadata, old.metadata, false),
    ...validateAgainstSchema(schema, cr, old),
  ];
  return { namespaced, schema, validateCreate, validateUpdate, validateStatusUpdate: validateUpdate };
}
