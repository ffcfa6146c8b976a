/**
 * The module of `uplink serve --workers N` in test/integration/cli/serve-workers.test.ts: each worker registers its
 * own `thread` object, which answers with the worker thread's id (so a test sees which gateway of the
 * process took a connection). Everything else is on the hosts, through NATS.
 */
import { threadId } from 'node:worker_threads';
import { expose } from '../../src/index.js';

class Thread {
  @expose id(): number {
    return threadId;
  }
}

export default (gateway: { register(target: object, id: string): string }) => {
  gateway.register(new Thread(), 'thread');
};
