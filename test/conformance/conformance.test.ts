/**
 * The conformance vectors (test/conformance/vectors/*.json) against a live gateway configured as
 * test/conformance/gateway.json says. Another gateway can run the same vectors with the runner.
 * The worked session in docs/protocol.md is vector session.json: every frame it sends is checked to
 * appear there verbatim, so the document cannot drift from what the gateway does.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { JwtAuthenticator, type Gateway } from '../../src/index.js';
import { runVector, type ConformanceConfig, type Vector } from './runner.js';
import { startGateway } from '../support/gateway.js';

const folder = new URL('.', import.meta.url);
const config = JSON.parse(readFileSync(new URL('gateway.json', folder), 'utf8')) as ConformanceConfig & { maxPayloadLength: number };
const vectors = readdirSync(new URL('vectors/', folder)).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(new URL(`vectors/${f}`, folder), 'utf8')) as Vector);

let gateway: Gateway;
let url: string;
before(async () => {
  const authenticator = new JwtAuthenticator({ algorithms: ['HS256'], secret: config.jwtSecret, issuer: config.issuer });
  ({ gateway, url } = await startGateway({ authenticator, maxPayloadLength: config.maxPayloadLength, logLevel: 'warn' }));
});
after(() => gateway.close({ drainMs: 0 }));

describe('conformance vectors', () => {
  for (const vector of vectors) {
    it(`${vector.name}: ${vector.description}`, async () => {
      const transcript: string[] = [];
      await runVector(vector, url, config, transcript);
      // UPLINK_TRANSCRIPT=dir writes what went over the wire, per vector (how the worked session was made).
      const dir = process.env.UPLINK_TRANSCRIPT;
      if (dir) writeFileSync(`${dir}/${vector.name}.txt`, transcript.join('\n') + '\n');
    });
  }

  it('the worked session in docs/protocol.md is the session vector, frame for frame', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const session = vectors.find((v) => v.name === 'session');
    assert.ok(session, 'a vector named session');
    for (const step of session.steps) {
      if (step.send === undefined) continue;
      // Placeholders ({{token:alice}}, {{key9}}) stand for whatever the document shows there.
      const pattern = step.send.split(/\{\{[^}]+\}\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^"]+');
      assert.match(doc, new RegExp(pattern), `docs/protocol.md shows ${step.send}`);
    }
  });
});
