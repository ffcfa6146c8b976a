/**
 * The gateways a client may use, in order of preference (gateways of one cluster): the one in use,
 * and a move to the next after a failed attempt or a lost connection (round robin).
 */
export class GatewayList {
  private index = 0;

  constructor(private readonly urls: readonly string[]) {
    if (urls.length === 0) throw new TypeError('connect needs at least one gateway URL');
  }

  get size(): number {
    return this.urls.length;
  }

  get current(): string {
    return this.urls[this.index]!;
  }

  next(): void {
    this.index = (this.index + 1) % this.urls.length;
  }
}
