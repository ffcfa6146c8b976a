/** `uplink/client`: the Node.js client. Its list is public-api.ts, shared with `uplink/browser`. */
export * from './public-api.js';
export { connect, type NodeClientOptions } from './node.js';
