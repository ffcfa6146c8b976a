/**
 * The uWebSockets.js package we depend on (through an npm alias, see package.json) silently falls
 * back to a slow pure-JS shim when its native binary does not load. Detect that and refuse to run on
 * the shim unless the operator explicitly allowed it.
 */
import uws from 'uWebSockets.js';

/** True when the native addon is loaded: only it exports these, and its App is native code. */
export function uwsIsNative(): boolean {
  const api = uws as unknown as Record<string, unknown>;
  return typeof api.getParts === 'function' && typeof api.SSLApp === 'function' && /\[native code\]/.test(String(api.App));
}

export class NativeBindingError extends Error {
  constructor() {
    super(
      'uWebSockets.js did not load its native binary for this platform and Node.js ' +
        `(${process.platform}-${process.arch}, ABI ${process.versions.modules}) and fell back to a slow JavaScript shim. ` +
        'Install a build that matches this Node.js, or set UPLINK_ALLOW_JS_FALLBACK=1 (allowJsFallback: true) to run on the shim anyway.',
    );
    this.name = 'NativeBindingError';
  }
}

export function assertNativeUws(allowJsFallback: boolean): void {
  if (!uwsIsNative() && !allowJsFallback) throw new NativeBindingError();
}
