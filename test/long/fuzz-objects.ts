/**
 * The objects of the fuzzing cluster's host process (`uplink host test/long/fuzz-objects.ts`): the
 * same fixtures the in-process gateway serves (test/support/fixtures.ts), so the WebSocket lane
 * calls the same members either way.
 */
import type { Gateway } from '../../src/index.js';
import { registerFixtures } from '../support/fixtures.js';

/** registerFixtures uses only `codec` and `register` of the gateway, which the host's registrar has too. */
export default (registrar: Pick<Gateway, 'codec' | 'register'>) => registerFixtures(registrar as Gateway);
