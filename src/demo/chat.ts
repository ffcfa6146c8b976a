/**
 * Demo objects for callbacks and references: a long job that reports progress through the caller's
 * callback, and a chat room whose members receive messages through theirs. Joining returns a live
 * Membership (a server reference): saying something goes through it, disposing it leaves the room.
 */
import { callContext, ErrorCode, expose, remote, UplinkError, type ClientCallback } from '../index.js';

export interface ChatMessage { from: string; text: string; at: Date }
type Listener = ClientCallback<(message: ChatMessage) => void>;

/** Members see each other's messages; the room never holds more than `maxMembers`. */
export class ChatRoom {
  private readonly members = new Set<Membership>();
  private readonly history: ChatMessage[] = [];

  constructor(private readonly maxMembers = 200) {}

  /** Joins with a listener (a client callback); the last messages are replayed to it first. */
  @expose async join(listener: Listener): Promise<Membership> {
    if (this.members.size >= this.maxMembers) throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, 'the room is full');
    const name = callContext().identity?.subject ?? `guest-${callContext().connection.id}`;
    const membership = remote(new Membership(this, name, listener));
    this.members.add(membership);
    for (const message of this.history) await listener(message);
    this.broadcast({ from: 'room', text: `${name} joined`, at: new Date() });
    return membership;
  }

  @expose get size(): number {
    return this.members.size;
  }

  /** @internal */
  post(message: ChatMessage): void {
    this.history.push(message);
    if (this.history.length > 20) this.history.shift();
    this.broadcast(message);
  }

  /** @internal */
  leave(membership: Membership): void {
    if (this.members.delete(membership)) this.broadcast({ from: 'room', text: `${membership.name} left`, at: new Date() });
  }

  /** Each member's listener is called without waiting for the others; a member whose client is gone leaves. */
  private broadcast(message: ChatMessage): void {
    for (const member of this.members) {
      member.listener(message).catch((error: unknown) => {
        const code = (error as UplinkError).code;
        if (code === ErrorCode.REF_RELEASED || code === ErrorCode.CONNECTION_CLOSED) this.leave(member);
      });
    }
  }
}

/** One member's place in the room, handed to the client by reference. */
export class Membership {
  constructor(private readonly room: ChatRoom, readonly name: string, readonly listener: Listener) {}

  @expose say(text: string): void {
    const trimmed = String(text).trim().slice(0, 500);
    if (trimmed) this.room.post({ from: this.name, text: trimmed, at: new Date() });
  }

  @expose get who(): string {
    return this.name;
  }

  /** The client disposed it, or its connection ended. */
  [Symbol.dispose](): void {
    this.room.leave(this);
    this.listener.release();
  }
}

export class Jobs {
  /** Works through `steps` steps (about 100 ms each), reporting the percentage after each one. */
  @expose async run(steps: number, progress: ClientCallback<(percent: number) => void>): Promise<string> {
    const n = Math.min(Math.max(1, Math.floor(Number(steps) || 1)), 100);
    const signal = callContext().signal;
    for (let i = 1; i <= n; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (signal.aborted) throw signal.reason;
      await progress(Math.round((100 * i) / n));
    }
    return `${n} steps done`;
  }
}
