// The API server's TLS identity: a private CA and a serving certificate, made on first start and kept in
// DATA/pki. kubectl (client-go) sends bearer tokens only over TLS, and tokens should never cross the wire in
// clear anyway, so Strata always serves HTTPS; the kubeconfig carries the CA.
// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export interface ServingPki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

async function makePki(hosts: string[]): Promise<ServingPki & { caKeyPem: string }> {
  const now = new Date(Date.now() - 60_000);
  const later = new Date(Date.now() + TEN_YEARS_MS);
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=strata-ca',
    notBefore: now,
    notAfter: later,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const names = hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=strata-apiserver',
    issuer: ca.subject,
    notBefore: now,
    notAfter: later,
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return {
    caPem: ca.toString('pem') + '\n',
    caKeyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', caKeys.privateKey)),
    certPem: cert.toString('pem') + '\n',
    keyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
  };
}

/** Loads DATA/pki, or creates it. The serving certificate names localhost, 127.0.0.1, ::1 and the listen host. */
export async function loadOrCreatePki(dataDir: string, listenHost: string): Promise<ServingPki> {
  const dir = join(dataDir, 'pki');
  const files = { caPem: 'ca.crt', caKeyPem: 'ca.key', certPem: 'apiserver.crt', keyPem: 'apiserver.key' } as const;
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...(listenHost && listenHost !== '0.0.0.0' && listenHost !== '::' ? [listenHost] : [])])];
  const hostsFile = join(dir, 'hosts');
  if (Object.values(files).every((f) => existsSync(join(dir, f))) && existsSync(hostsFile) && readFileSync(hostsFile, 'utf8') === hosts.join(',')) {
    return {
      caPem: readFileSync(join(dir, files.caPem), 'utf8'),
      certPem: readFileSync(join(dir, files.certPem), 'utf8'),
      keyPem: readFileSync(join(dir, files.keyPem), 'utf8'),
    };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = await makePki(hosts);
  for (const [k, f] of Object.entries(files)) writeFileSync(join(dir, f), pki[k as keyof typeof files], { mode: 0o600 });
  writeFileSync(hostsFile, hosts.join(','), { mode: 0o600 });
  return pki;
}
