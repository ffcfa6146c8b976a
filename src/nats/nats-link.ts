/**
 * What a gateway or a host knows about its own NATS connection, and the one way both subscribe.
 *
 * `connected` follows nats.js's status events (a connection that is reconnecting is not closed, but
 * nothing it publishes is delivered: readiness and routing must not count it as up). Disconnects,
 * reconnects and server errors are logged at warn level, with the role and the server.
 *
 * `subscribe` wraps every callback: a message that makes a handler throw is logged and dropped, and
 * the subscription lives on (nats.js closes a subscription whose callback throws, which would blind
 * the process for good).
 */
import type { Msg, NatsConnection, Subscription, SubscriptionOptions } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export interface NatsLinkEvents {
  /** The connection came back: messages sent in between may be lost, and peers' silence meant nothing. */
  reconnected?(): void;
}

export class NatsLink {
  private up = true;
  private reconnectCount = 0;
  /** Messages a handler threw on (dropped). */
  dropped = 0;
  private droppedLogged = 0;
  private lastDropLog = -Infinity;
  logger: Logger | undefined;

  constructor(readonly nc: NatsConnection, private readonly role: string, private readonly events: NatsLinkEvents = {}) {
    void this.watch();
  }

  get connected(): boolean {
    return this.up && !this.nc.isClosed() && !this.nc.isDraining();
  }

  /** Times the connection came back. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  subscribe(subject: string, handle: (msg: Msg) => void, options: Omit<SubscriptionOptions, 'callback'> = {}): Subscription {
    return this.nc.subscribe(subject, {
      ...options,
      callback: (error, msg) => {
        if (error) {
          this.logger?.warn({ role: this.role, subject, err: error.message }, 'NATS subscription error');
          return;
        }
        try {
          handle(msg);
        } catch (thrown) {
          this.droppedMessage(msg.subject, thrown);
        }
      },
    });
  }

  /** Counted always; logged at most once a second (with how many since), so a flood cannot flood the log. */
  private droppedMessage(subject: string, thrown: unknown): void {
    this.dropped++;
    const now = Date.now();
    if (now - this.lastDropLog < 1_000) return;
    this.logger?.warn({ role: this.role, subject, err: (thrown as Error)?.message, dropped: this.dropped - this.droppedLogged }, 'a NATS message was dropped: its handler failed');
    this.lastDropLog = now;
    this.droppedLogged = this.dropped;
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.up = false;
          this.logger?.warn({ role: this.role, server: status.server }, 'NATS disconnected; reconnecting');
          break;
        case 'reconnect':
          this.up = true;
          this.reconnectCount++;
          this.logger?.warn({ role: this.role, server: status.server, reconnects: this.reconnectCount }, 'NATS reconnected');
          try {
            this.events.reconnected?.();
          } catch (error) {
            this.logger?.warn({ role: this.role, err: (error as Error)?.message }, 'after a NATS reconnect: a handler failed');
          }
          break;
        case 'error':
          this.logger?.warn({ role: this.role, err: status.error?.message }, 'NATS server error');
          break;
        case 'close':
          this.up = false;
          this.logger?.warn({ role: this.role }, 'NATS connection closed');
          break;
        default:
      }
    }
  }
}
