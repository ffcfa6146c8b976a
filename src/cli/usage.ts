/** The `uplink` command's usage text, and the error that prints it (exit 2). */
export const USAGE = `usage:
  uplink serve <module> [--workers N]
                              serve the objects the module registers (configure with UPLINK_* variables;
                              UPLINK_NATS_URL adds the objects of the cluster's hosts); --workers N (or
                              UPLINK_WORKERS): N gateways on one port, one per worker thread
  uplink host <module>        serve the module's objects to the gateways over NATS (UPLINK_NATS_URL)
  uplink token --sub <subject> [--scope "a b"] [--roles r1,r2] [--ttl 1h] [--iss issuer] [--aud audience]
  uplink revoke <subject>     close the subject's connections on every gateway of the cluster and refuse
  uplink revoke --token-id <jti>  its tokens issued until now (or one token), over NATS (UPLINK_NATS_URL,
                              UPLINK_NATS_USER=uplink-ops or uplink-gateway, UPLINK_NATS_PASS)
  uplink help, --help, -h     this text`;

/** Misuse of the command line: the message, then the usage, on stderr; exit 2. */
export class UsageError extends Error {}
