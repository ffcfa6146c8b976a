/**
 * Layering rules, checked by `npm run lint:layers` (part of `npm test`); docs/architecture.md draws them.
 * protocol/ is the bottom (the wire); core/ holds what every server-side layer shares (identity, call
 * context); auth/ and streams/ sit on core/; host/ uses auth/ and streams/; nats/ (remote object
 * hosts) uses host/ and auth/; server/ uses all but nats/; client/ uses protocol/ only.
 */
const FOLDERS = '(server|host|auth|streams|client|core|demo|cli|nats)';
module.exports = {
  forbidden: [
    { name: 'no-cycles', comment: 'modules never import each other in a circle', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    { name: 'protocol-is-the-wire', comment: 'protocol/ imports nothing but clock.ts', severity: 'error', from: { path: '^src/protocol/' }, to: { path: `^src/${FOLDERS}/` } },
    { name: 'client-speaks-protocol-only', severity: 'error', from: { path: '^src/client/' }, to: { path: '^src/(server|host|auth|streams|core|demo|cli)/' } },
    { name: 'core-is-shared', severity: 'error', from: { path: '^src/core/' }, to: { path: '^src/(server|host|auth|streams|client|demo|cli)/' } },
    { name: 'auth-knows-no-host', severity: 'error', from: { path: '^src/auth/' }, to: { path: '^src/(host|streams|server|client|demo|cli)/' } },
    { name: 'streams-know-no-host', comment: 'a stream writes to a StreamSink (streams/stream-sink.ts); hosts name it, never the other way', severity: 'error', from: { path: '^src/streams/' }, to: { path: '^src/(host|server|auth|client|demo|cli)/' } },
    { name: 'host-knows-no-transport', severity: 'error', from: { path: '^src/host/' }, to: { path: '^src/(server|client|demo|cli)/' } },
    { name: 'nats-is-an-object-host-adapter', comment: 'nats/ implements RemoteObjectHost and serves a LocalObjectHost: it sits beside host/, never above the gateway', severity: 'error', from: { path: '^src/nats/' }, to: { path: '^src/(server|client|streams|demo|cli)/' } },
    { name: 'only-applications-import-nats', severity: 'error', from: { path: '^src/(?!nats/|cli/|demo/)' }, to: { path: '^src/nats/' } },
    { name: 'library-never-imports-the-demo', severity: 'error', from: { path: '^src/(?!demo/|cli/)' }, to: { path: '^src/(demo|cli)/' } },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
