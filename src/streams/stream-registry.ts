/**
 * The live streams of an object host, by resume key. A key is 144 random bits: knowing a stream's
 * numeric id (or guessing) is useless, and a key only resumes for the identity that opened it.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../host/context.js';
import type { ServerStream } from './server-stream.js';

export class StreamRegistry {
  private readonly streams = new Map<string, ServerStream>();

  newKey(): string {
    return randomBytes(18).toString('base64url');
  }

  add(stream: ServerStream): void {
    this.streams.set(stream.key, stream);
  }

  remove(stream: ServerStream): void {
    this.streams.delete(stream.key);
  }

  /** The stream for `key` if `identity` is the one that opened it (same subject and issuer). */
  claim(key: string, identity: Identity | undefined): ServerStream | undefined {
    const stream = this.streams.get(key);
    if (!stream?.live) return undefined;
    const owner = stream.owner;
    if (owner?.subject !== identity?.subject || owner?.issuer !== identity?.issuer) return undefined;
    return stream;
  }

  /** Cancels every stream (shutdown): generators are closed, lingering streams too. */
  cancelAll(): void {
    for (const stream of [...this.streams.values()]) stream.cancel('the gateway shut down');
  }

  /** Streams not yet closed (open, lingering, or ended and waiting to deliver their end). */
  get size(): number {
    return this.streams.size;
  }
}
