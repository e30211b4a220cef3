import type { KubeObject } from '../types.ts';
import type { FieldError } from '../field-errors.ts';
import type { SchemaNode } from './schema.ts';

// What one kind contributes: upstream's SetDefaults_*, its REST strategy's PrepareForCreate, and its validation.
export interface KindRules {
  namespaced: boolean;
  // Schema for unknown-field detection: a @kubernetes/client-node model class name, or a hand-written schema.
  schema: string | SchemaNode;
  applyDefaults?(obj: KubeObject): void;
  prepareForCreate?(obj: KubeObject): void;
  validateCreate(obj: KubeObject): FieldError[];
  validateUpdate(obj: KubeObject, old: KubeObject): FieldError[];
  validateStatusUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  // Custom resources get apimachinery's ObjectMeta checks only; built-in kinds skip the generic pass too when
  // their REST storage never calls BeforeCreate (pods/binding).
  skipGenericMeta?: boolean;
}
