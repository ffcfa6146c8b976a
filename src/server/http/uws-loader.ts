/**
 * Which uWebSockets.js build the gateway runs on. The candidates are npm aliases (package.json
 * dependencies and optionalDependencies), tried in order; the first that loads its native binary on
 * this platform wins. This list is the one place to change them.
 *
 * Some builds fall back silently to a slow pure-JS shim when their binary does not load (Truffle's
 * does); others throw (btc-vision's). Either way a candidate that is not native is skipped, and the
 * gateway refuses to run on the shim unless the operator allowed it (allowJsFallback). What loaded and
 * why each other candidate did not is kept for the start-up log and GET /health.
 */
import { createRequire } from 'node:module';
import type uwsTypes from 'uWebSockets.js';

export type Uws = typeof uwsTypes;

export interface UwsCandidate {
  /** The npm alias it is installed under. */
  module: string;
  /** What the alias points at, and the uWS version inside. */
  package: string;
  uwsVersion: string;
  /** Who publishes the build, and what it covers. */
  provenance: string;
}

export const UWS_CANDIDATES: readonly UwsCandidate[] = [
  {
    module: 'uws-btc',
    package: '@btc-vision/uwebsockets.js@20.57.0',
    uwsVersion: '20.57.0',
    provenance: 'btc-vision re-publishes the uNetworking v20.57.0 binaries for Node 20, 22, 24 and 25 (ABIs 115, 127, 137, 141); Linux builds need glibc 2.38 or later',
  },
  {
    module: 'uWebSockets.js',
    package: '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0',
    uwsVersion: '20.30.0',
    provenance: 'Truffle Suite (ConsenSys) publishes uWS v20.30.0 with binaries for Node up to 20 and a pure-JS shim elsewhere',
  },
];

export interface UwsReport {
  /** The alias in use, or undefined when none loaded natively and the shim was refused. */
  loaded: string | undefined;
  native: boolean;
  uwsVersion: string | undefined;
  candidates: Array<{ module: string; package: string; result: 'loaded' | 'skipped'; reason?: string }>;
}

/** True when the native addon is loaded: only it exports these, and its App is native code. */
export function uwsIsNative(api: unknown): boolean {
  const a = api as Record<string, unknown>;
  return typeof a.getParts === 'function' && typeof a.SSLApp === 'function' && /\[native code\]/.test(String(a.App));
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  // The useful line of a dlopen failure names the missing symbol or library ("GLIBC_2.38 not found").
  const line = lines.find((l) => /GLIBC_|not found|cannot open shared|undefined symbol|Cannot find module/.test(l)) ?? lines[0] ?? 'failed to load';
  // File names without their directories: /health is public, and the install path is nobody's business.
  return line.replace(/(?:\/[^\s/()'`]+)+\/([^\s/()'`]+)/g, '$1').slice(0, 300);
}

/**
 * Tries the candidates in order (only `only` when set: UPLINK_UWS_BUILD). Returns the first native
 * build; with none, the first that loaded at all (the shim) and a report that says so.
 */
export function loadUws(only?: string): { uws: Uws | undefined; report: UwsReport } {
  const require = createRequire(import.meta.url);
  const report: UwsReport = { loaded: undefined, native: false, uwsVersion: undefined, candidates: [] };
  let fallback: { uws: Uws; candidate: UwsCandidate } | undefined;
  const candidates = only ? UWS_CANDIDATES.filter((c) => c.module === only) : UWS_CANDIDATES;
  if (candidates.length === 0) throw new Error(`UPLINK_UWS_BUILD=${only} is none of ${UWS_CANDIDATES.map((c) => c.module).join(', ')}`);
  for (const candidate of candidates) {
    const entry = { module: candidate.module, package: candidate.package };
    let api: Uws;
    try {
      api = require(candidate.module) as Uws;
    } catch (error) {
      report.candidates.push({ ...entry, result: 'skipped', reason: firstLine(error) });
      continue;
    }
    if (uwsIsNative(api)) {
      report.candidates.push({ ...entry, result: 'loaded' });
      Object.assign(report, { loaded: candidate.module, native: true, uwsVersion: candidate.uwsVersion });
      return { uws: api, report };
    }
    report.candidates.push({ ...entry, result: 'skipped', reason: 'its native binary did not load for this platform; it fell back to the JS shim' });
    fallback ??= { uws: api, candidate };
  }
  if (fallback) Object.assign(report, { loaded: fallback.candidate.module, native: false, uwsVersion: fallback.candidate.uwsVersion });
  return { uws: fallback?.uws, report };
}

export class NativeBindingError extends Error {
  constructor(report: UwsReport) {
    super(
      'uWebSockets.js did not load a native binary for this platform and Node.js ' +
        `(${process.platform}-${process.arch}, ABI ${process.versions.modules}); ` +
        report.candidates.map((c) => `${c.package}: ${c.reason ?? 'loaded'}`).join('; ') +
        '. The fallback is a slow JavaScript shim: install a build that matches this Node.js, ' +
        'or set UPLINK_ALLOW_JS_FALLBACK=1 (allowJsFallback: true) to run on the shim anyway.',
    );
    this.name = 'NativeBindingError';
  }
}

let selected: { uws: Uws | undefined; report: UwsReport } | undefined;

/** What loaded for this process (tried once): a native build, the shim, or nothing, with the report. */
export function loadedUws(): { uws: Uws | undefined; report: UwsReport } {
  selected ??= loadUws(process.env.UPLINK_UWS_BUILD || undefined);
  return selected;
}

/** The build for this process (chosen once), or NativeBindingError when only the shim loaded and it is not allowed. */
export function selectUws(allowJsFallback: boolean, loaded = loadedUws()): { uws: Uws; report: UwsReport } {
  const { uws, report } = loaded;
  if (!uws || (!report.native && !allowJsFallback)) throw new NativeBindingError(report);
  return { uws, report };
}
