/** `uplink/dev`: development helpers. Never in production: a dev token is as good as the secret. */
export { mintDevToken } from './auth/dev-tokens.js';
