/**
 * A gateway's questions to its hosts for `$uplink` (list, describe): each asked of a live host on the
 * gateway's own inbox, answered there by the host with its access rules applied to the caller. A
 * host that does not answer within the ask timeout has nothing to say; an answer that is not the
 * expected shape counts as none.
 *
 * Why the gateway's inbox and not nats.js request(): request() replies arrive on a shared `_INBOX.`
 * subject, which other NATS users (operators running `nats micro`) may read.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../clock.js';
import type { Identity } from '../core/context.js';
import type { ObjectMetadata } from '../host/members.js';
import { b64json, bytesJson, controlHeaders, Header, jsonBytes, Subject } from './envelope.js';
import type { HostTable } from './host-table.js';
import type { AssertionSigner } from './identity-assertion.js';
import type { InboxEntry, InboxLink } from './inbox-entry.js';
import { publish } from './publish.js';

export class HostQuestions {
  constructor(
    private readonly nc: NatsConnection,
    private readonly link: InboxLink,
    private readonly hosts: HostTable,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly signer: AssertionSigner | undefined,
    private readonly connected: () => boolean,
  ) {}

  /** Every live host's objects that `identity` may see (each host filters by its access rules). */
  async listObjects(identity: Identity | undefined, pattern: string | undefined): Promise<string[]> {
    const hosts = this.hosts.live().filter((h) => h.state === 'up');
    const answers = await Promise.all(hosts.map((h) => this.ask<string[]>(Subject.list(h.id), identity, { pattern })));
    return [...new Set(answers.flatMap((ids) => (Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string' && this.hosts.knows(id)) : [])))].sort();
  }

  async describeObject(identity: Identity | undefined, id: string): Promise<ObjectMetadata | undefined> {
    const host = this.hosts.hostOf(id);
    if (!host) return undefined;
    const answer = await this.ask<{ ok?: ObjectMetadata }>(Subject.metadata(host), identity, { id });
    const metadata = typeof answer === 'object' && answer !== null ? answer.ok : undefined;
    return typeof metadata === 'object' && metadata !== null && metadata.id === id && Array.isArray(metadata.methods) ? metadata : undefined;
  }

  /**
   * A question to one host, answered on this gateway's own inbox (not a shared `_INBOX.`, which other
   * NATS users may read); a host that does not answer in time counts as having nothing to say.
   */
  ask<T>(subject: string, identity: Identity | undefined, question: object): Promise<T | undefined> {
    if (!this.connected()) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve) => {
      let timer: unknown;
      const done = (answer: T | undefined): void => {
        this.clock.clearTimeout(timer as never);
        this.link.unregister(reply);
        resolve(answer);
      };
      const entry: InboxEntry = {
        host: undefined, since: this.clock.now(), unheard: false,
        onMessage: (msg) => done(tryJson<T>(msg.data)),
        hostLost: () => done(undefined),
      };
      const reply = this.link.register(entry);
      timer = this.clock.setTimeout(() => done(undefined), this.timeoutMs);
      const headers = controlHeaders('ask', {});
      if (identity) headers.set(Header.identity, b64json(identity));
      if (this.signer) headers.set(Header.assertion, this.signer.assertion(reply, identity, false));
      if (publish(this.nc, subject, jsonBytes(question), { headers, reply }) !== 'sent') done(undefined);
    });
  }
}

/** A host's JSON answer, or undefined (a no-responders status has no body). */
function tryJson<T>(data: Uint8Array): T | undefined {
  try {
    return bytesJson<T>(data);
  } catch {
    return undefined;
  }
}
