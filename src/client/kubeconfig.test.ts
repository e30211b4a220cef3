import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
import { KubeClient } from './rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('writeKubeconfig', () => {
  it('writes mode 0600 and client-node 2.x loads it for a plain-http server and sends the token', async () => {
    const path = join(dir, 'kubeconfig');
    writeKubeconfig(path, { server: 'http://127.0.0.1:6443', token: 's3cret' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    assert.equal(kc.getCurrentCluster()?.server, 'http://127.0.0.1:6443');
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'default');
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts); // throws for http without insecure-skip-tls-verify
    assert.equal((opts.headers as Record<string, string>).Authorization, 'Bearer s3cret');
    const client = KubeClient.fromKubeconfig(path);
    assert.equal(client.server.href, 'http://127.0.0.1:6443/');
    assert.equal(client.namespace, 'default');
  });

  it('client-node 2.x alone refuses plain http without insecure-skip-tls-verify; KubeClient accepts it', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigYaml({ server: 'http://127.0.0.1:6443', token: 't' }).replace(/\n\s*insecure-skip-tls-verify: true/, ''));
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, false);
    await assert.rejects(kc.applyToHTTPSOptions({}), /HTTP protocol is not allowed when skipTLSVerify is not set or false/);
    assert.doesNotThrow(() => new KubeClient(kc));
  });

  it('https: verifies by default, carries the CA, skips verification only when asked', () => {
    const verified = new KubeConfig();
    verified.loadFromString(kubeconfigYaml({ server: 'https://10.0.0.1:6443', token: 't', certificateAuthorityPem: 'PEM' }));
    assert.equal(verified.getCurrentCluster()?.skipTLSVerify, false);
    assert.equal(verified.getCurrentCluster()?.caData, Buffer.from('PEM').toString('base64'));
    const insecure = new KubeConfig();
    insecure.loadFromString(kubeconfigYaml({ server: 'https://10.0.0.1:6443', token: 't', insecureSkipTlsVerify: true }));
    assert.equal(insecure.getCurrentCluster()?.skipTLSVerify, true);
  });
});
