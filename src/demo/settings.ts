/**
 * Demo-mode settings for `npm start`. The demo secret is public (it is in this file): it exists so
 * that the quick start works with no setup. Set UPLINK_JWT_SECRET for anything else.
 */
export const DEMO_SECRET = 'uplink-demo-secret-0123456789-NOT-FOR-PRODUCTION';
