/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with Debian's openssl at
 * test time (nothing is checked in, nothing is downloaded). `openssl` missing is a loud failure, not a
 * skip: .ci/run installs it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The same key, encrypted with `passphrase`. */
  encryptedKeyFile: string;
  passphrase: string;
  /** A key of another pair (does not match certFile). */
  otherKeyFile: string;
  ca: string;
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'uplink-tls-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('TLS tests need openssl (apt-get install -y openssl); .ci/run installs it');
      throw error;
    }
  };
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=Uplink test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'key.pem', '-out', 'server.csr');
  writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'cert.pem');
  openssl('pkcs8', '-topk8', '-in', 'key.pem', '-out', 'key-encrypted.pem', '-passout', 'pass:open-sesame');
  openssl('genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other-key.pem');
  return {
    dir, caFile: at('ca.pem'), certFile: at('cert.pem'), keyFile: at('key.pem'), encryptedKeyFile: at('key-encrypted.pem'),
    passphrase: 'open-sesame', otherKeyFile: at('other-key.pem'), ca: readFileSync(at('ca.pem'), 'utf8'),
  };
}
