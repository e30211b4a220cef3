import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isRelaxedEnvVarName,
  isValidPathSegmentName,
  isValidPortName,
  isValidPortNum,
  nameIsDNSSubdomain,
} from './names.ts';

const subdomainMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMsg =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

test('IsDNS1123Subdomain', () => {
  for (const good of ['a', 'ab', 'a-b', 'a.b', '1.a', 'example.com', 'a'.repeat(253)]) assert.deepEqual(isDNS1123Subdomain(good), [], good);
  assert.deepEqual(isDNS1123Subdomain('Upper'), [subdomainMsg]);
  assert.deepEqual(isDNS1123Subdomain('a_b'), [subdomainMsg]);
  assert.deepEqual(isDNS1123Subdomain(''), [subdomainMsg]);
  assert.deepEqual(isDNS1123Subdomain('a'.repeat(254)), ['must be no more than 253 characters']);
});

test('IsDNS1123Label', () => {
  for (const good of ['a', 'a-b', '0', 'a'.repeat(63)]) assert.deepEqual(isDNS1123Label(good), [], good);
  assert.deepEqual(isDNS1123Label('A'), [labelMsg]);
  assert.deepEqual(isDNS1123Label('a.b'), ['must not contain dots']);
  assert.deepEqual(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
});

test('IsQualifiedName', () => {
  for (const good of ['simple', 'now-with-dashes', 'example.com/name', 'kubernetes.io/pvc-protection', 'A_b.c']) {
    assert.deepEqual(isQualifiedName(good), [], good);
  }
  assert.deepEqual(isQualifiedName('/name'), ['prefix part must be non-empty']);
  assert.deepEqual(isQualifiedName('a/b/c'), [
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
  ]);
  // An empty name part fails both the emptiness and the regex check, as upstream reports it.
  assert.deepEqual(isQualifiedName('example.com/'), [
    'name part must be non-empty',
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
  ]);
});

test('path segment names, ports, env vars, config keys', () => {
  assert.deepEqual(isValidPathSegmentName('..'), ["may not be '..'"]);
  assert.deepEqual(isValidPathSegmentName('a/b%'), ["may not contain '/'", "may not contain '%'"]);
  assert.deepEqual(isValidPortName('http'), []);
  assert.deepEqual(isValidPortName('-a--'), ['must not contain consecutive hyphens', 'must not begin or end with a hyphen']);
  assert.deepEqual(isValidPortName('123'), ['must contain at least one letter (a-z)']);
  assert.deepEqual(isValidPortNum(0), ['must be between 1 and 65535, inclusive']);
  assert.deepEqual(isRelaxedEnvVarName('A=B'), ["a valid environment variable name must consist only of printable ASCII characters other than '='"]);
  assert.deepEqual(isConfigMapKey('..x'), ["must not start with '..'"]);
});

test('generateName prefixes mask a trailing dash the way upstream does', () => {
  assert.deepEqual(nameIsDNSSubdomain('pvc-', true), []);
  assert.deepEqual(nameIsDNSSubdomain('pvc-', false), [subdomainMsg]);
});
