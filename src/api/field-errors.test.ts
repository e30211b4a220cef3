import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GoLiteral,
  duplicate,
  fieldErrorBody,
  fieldErrorMessage,
  forbidden,
  internalError,
  invalid,
  notFound,
  notSupported,
  required,
  tooLong,
  tooLongMaxLength,
  tooMany,
  typeInvalid,
  child,
  index,
  key,
} from './field-errors.ts';

// Cases follow apimachinery's field/errors_test.go (TestMakeFuncs, TestErrorUsefulMessage).
test('ErrorBody renders each error type the way upstream does', () => {
  const cases: Array<[ReturnType<typeof required>, string]> = [
    [required('spec.accessModes', 'at least 1 access mode is required'), 'Required value: at least 1 access mode is required'],
    [required('spec.resources[storage]'), 'Required value'],
    [invalid('metadata.name', 'x_y', 'detail'), 'Invalid value: "x_y": detail'],
    [invalid('spec.replicas', 5, 'must be positive'), 'Invalid value: 5: must be positive'],
    [invalid('spec.flag', false, 'bad'), 'Invalid value: false: bad'],
    [invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'), 'Invalid value: null: must not update from a positive integer to nil value'],
    [notSupported('reclaimPolicy', 'Foo', ['Delete', 'Retain']), 'Unsupported value: "Foo": supported values: "Delete", "Retain"'],
    [forbidden('provisioner', 'updates to provisioner are forbidden.'), 'Forbidden: updates to provisioner are forbidden.'],
    [duplicate('spec.volumes[1].name', 'data'), 'Duplicate value: "data"'],
    [notFound('spec.containers[0].volumeMounts[0].name', 'v'), 'Not found: "v"'],
    [tooLong('metadata.annotations', '', 262144), 'Too long: must have at most 262144 bytes'],
    [tooLongMaxLength('x', 'abc', 2), 'Too long: may not be longer than 2'],
    [tooMany('items', 5, 4), 'Too many: 5: must have at most 4 items'],
    [tooMany('items', -1, -1), 'Too many: too many items'],
    [internalError('metadata.name', new Error('boom')), 'Internal error: boom'],
    [typeInvalid('spec.driver', 'integer', 'spec.driver in body must be of type string: "integer"'), 'Invalid value: "integer": spec.driver in body must be of type string: "integer"'],
    [invalid('f', ['a', 'b'], 'x'), 'Invalid value: []string{"a", "b"}: x'],
    [invalid('f', new GoLiteral('core.ResourceList(nil)'), 'x'), 'Invalid value: core.ResourceList(nil): x'],
    [invalid('f', 'quote"tab\t', 'x'), 'Invalid value: "quote\\"tab\\t": x'],
  ];
  for (const [error, body] of cases) assert.equal(fieldErrorBody(error), body);
});

test('Error() prefixes the field path', () => {
  assert.equal(fieldErrorMessage(required('metadata.name', 'name or generateName is required')), 'metadata.name: Required value: name or generateName is required');
});

test('paths are built like field.Path', () => {
  assert.equal(child('', 'spec'), 'spec');
  assert.equal(index(child('spec', 'containers'), 0), 'spec.containers[0]');
  assert.equal(key(child('spec', 'resources'), 'storage'), 'spec.resources[storage]');
});
