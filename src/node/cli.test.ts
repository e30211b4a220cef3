import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerTokenCheck, csiEndpointsFor, parseNodeArgs } from './cli.ts';
import { NodeAgentConfigError } from './errors.ts';

test('strata node takes several names, and a CSI endpoint per name or one with {node}', () => {
  const o = parseNodeArgs(['--name', 'a', '--name', 'b', '--kubeconfig', 'k', '--csi-endpoint', 'unix:///run/{node}.sock', '--data-dir', '/d']);
  assert.deepEqual(o.name, ['a', 'b']);
  assert.deepEqual(csiEndpointsFor(o.name, o.csiEndpoint), ['unix:///run/a.sock', 'unix:///run/b.sock']);
  assert.deepEqual(csiEndpointsFor(['a', 'b'], ['unix:///x', 'unix:///y']), ['unix:///x', 'unix:///y']);
  assert.throws(() => csiEndpointsFor(['a', 'b'], ['unix:///x']), NodeAgentConfigError);
});

test('the log token check accepts exactly the kubeconfig token', () => {
  const check = bearerTokenCheck('secret')!;
  assert.equal(check('secret'), true);
  assert.equal(check('secreT'), false);
  assert.equal(check('secret2'), false);
  assert.equal(bearerTokenCheck(undefined), undefined);
});
