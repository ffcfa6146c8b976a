/**
 * TLS for wss:// and https:// through uWS's SSLApp. The files are read and checked when the gateway
 * is created, with Node's crypto, because uWS reports a bad certificate or key only as a listen that
 * fails without a reason: a wrong, missing or unreadable file, a wrong passphrase, or a key that does
 * not belong to the certificate stops the start with a message that says which.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TlsOptions {
  /** PEM certificate chain (the server's certificate first). */
  certFile: string;
  /** PEM private key of the certificate. */
  keyFile: string;
  /** The key's passphrase, when it is encrypted. */
  passphrase?: string;
  /** PEM CA bundle, for client certificates signed by a private CA. */
  caFile?: string;
}

/** What uWS's SSLApp takes. */
export interface UwsTlsOptions {
  cert_file_name: string;
  key_file_name: string;
  passphrase?: string;
  ca_file_name?: string;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`TLS ${what} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Checks the TLS files (readable, parseable, key matching certificate) and returns uWS's options. */
export function checkedTls(tls: TlsOptions): UwsTlsOptions {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(read(tls.certFile, 'certificate'));
  } catch (error) {
    throw new Error((error as Error).message.startsWith('TLS') ? (error as Error).message : `TLS certificate ${tls.certFile} is not a PEM certificate`);
  }
  let key: KeyObject;
  const keyPem = read(tls.keyFile, 'key');
  try {
    key = createPrivateKey({ key: keyPem, ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}) });
  } catch (error) {
    // OpenSSL says "bad decrypt" for a wrong passphrase and "interrupted or cancelled" for a missing one.
    const encrypted = /ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(keyPem.toString('latin1'));
    const reason = encrypted || /passphrase|decrypt/i.test((error as Error).message) ? 'a wrong or missing passphrase' : 'not a PEM private key';
    throw new Error(`TLS key ${tls.keyFile}: ${reason}`);
  }
  if (!certificate.checkPrivateKey(key)) throw new Error(`TLS key ${tls.keyFile} does not belong to the certificate ${tls.certFile}`);
  if (tls.caFile !== undefined) read(tls.caFile, 'CA file');
  return {
    cert_file_name: tls.certFile, key_file_name: tls.keyFile,
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(tls.caFile !== undefined ? { ca_file_name: tls.caFile } : {}),
  };
}
