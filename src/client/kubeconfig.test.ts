import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { LocalSocketExtension, kubeconfigYaml, localSocketOf, writeKubeconfig } from './kubeconfig.ts';
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

describe('the local socket extension', () => {
  it('is written on the cluster, survives client-node, and names a socket only while one exists at that path', async () => {
    const socket = join(dir, 'api.sock');
    const yaml = kubeconfigYaml({ server: 'https://127.0.0.1:6443', token: 't', localSocket: socket });
    assert.match(yaml, new RegExp(`extensions:\\n\\s+- name: ${LocalSocketExtension}\\n\\s+extension:\\n\\s+path: ${socket}`));
    const kc = new KubeConfig();
    kc.loadFromString(yaml);
    assert.equal(kc.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    assert.equal(localSocketOf(yaml), undefined, 'nothing at the path yet');
    writeFileSync(socket, '');
    assert.equal(localSocketOf(yaml), undefined, 'a regular file is not a socket');
    rmSync(socket);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      assert.equal(localSocketOf(yaml), socket);
      const path = join(dir, 'with-socket');
      writeFileSync(path, yaml);
      assert.equal(KubeClient.fromKubeconfig(path).socketPath, socket);
      assert.equal(KubeClient.fromKubeconfig(path, { localSocket: false }).socketPath, undefined);
      assert.equal(KubeClient.fromKubeconfig(path, { socketPath: '/elsewhere.sock' }).socketPath, '/elsewhere.sock');
      // Only the current context's cluster counts, only an absolute path, and anything malformed is no socket.
      const otherCurrent = parse(yaml);
      otherCurrent.clusters.push({ name: 'other', cluster: { server: 'https://10.0.0.1' } });
      otherCurrent.contexts.push({ name: 'other', context: { cluster: 'other', user: 'strata' } });
      otherCurrent['current-context'] = 'other';
      assert.equal(localSocketOf(stringify(otherCurrent)), undefined, "another cluster's socket is not this one's");
      otherCurrent['current-context'] = 'strata';
      assert.equal(localSocketOf(stringify(otherCurrent)), socket);
      assert.equal(localSocketOf(yaml.replace(`path: ${socket}`, 'path: api.sock')), undefined);
      assert.equal(localSocketOf(yaml.replace(`path: ${socket}`, 'path: [1, 2]')), undefined);
      assert.equal(localSocketOf('{not yaml'), undefined);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is left out without a socket', () => {
    assert.doesNotMatch(kubeconfigYaml({ server: 'https://127.0.0.1:6443', token: 't' }), /extensions/);
  });
});
