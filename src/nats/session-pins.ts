/**
 * Session objects (one instance per connection) live on one host: the host that answered the
 * connection's first call to the object says so (Uplink-Pin), and later calls of that connection go
 * straight to it. Two first calls racing can land on two hosts; the later answer wins the pin. A
 * pinned host that is gone answers nothing: the next call there gets the server's 503, fails
 * HOST_LOST (the client must learn its session state is lost) and unpins.
 */
export class SessionPins {
  /** connection id → object id → host id. */
  private readonly pins = new Map<string, Map<string, string>>();

  get(connection: string, object: string): string | undefined {
    return this.pins.get(connection)?.get(object);
  }

  set(connection: string, object: string, host: string): void {
    let objects = this.pins.get(connection);
    if (!objects) this.pins.set(connection, (objects = new Map()));
    objects.set(object, host);
  }

  delete(connection: string, object: string): void {
    const objects = this.pins.get(connection);
    objects?.delete(object);
    if (objects?.size === 0) this.pins.delete(connection);
  }

  release(connection: string): void {
    this.pins.delete(connection);
  }

  get size(): number {
    return this.pins.size;
  }
}
