/** The gateway makes spans only while an OpenTelemetry SDK is registered (its own process: the registration is global). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { tracingEnabled } from '../../src/core/tracing.js';

describe('tracingEnabled', () => {
  it('is false without an SDK, true once one registers, false again once it is removed', () => {
    assert.equal(tracingEnabled(), false);
    assert.equal(trace.setGlobalTracerProvider(new BasicTracerProvider()), true);
    assert.equal(tracingEnabled(), true);
    trace.disable();
    assert.equal(tracingEnabled(), false);
  });
});
