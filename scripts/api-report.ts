/**
 * The public surface, checked: for each entry point of package.json "exports", the names it exports
 * and their kind, compared with api/<entry>.api.md. `npm run api:check` (run before `npm test`) fails
 * when an entry point's exports differ from its report; `npm run api:update` rewrites the reports, so
 * an addition or a removal shows up in review as a diff of api/.
 * Names and kinds only (no signatures): the TypeScript compiler API over the sources, no build, a few
 * seconds. Entry points are read from "exports" (types path dist/X.d.ts -> src/X.ts), so a new entry
 * point without a report fails the check too.
 */
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const reportDir = join(root, 'api');

interface EntryPoint { specifier: string; source: string; report: string }

/** `uplink/client` -> api/uplink-client.api.md, its source from the "types" path. */
function entryPoints(): EntryPoint[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { types?: string }> };
  const out: EntryPoint[] = [];
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string' || !target.types) continue; // ./package.json
    const specifier = key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`;
    const source = target.types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts');
    out.push({ specifier, source, report: `${specifier.replace('/', '-')}.api.md` });
  }
  return out;
}

/** What a name is; "type only" when a value (class, enum) is exported with `export type`. */
function kindOf(checker: ts.TypeChecker, exported: ts.Symbol): string {
  const typeOnly = exported.declarations?.some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ?? false;
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const f = symbol.flags;
  const kind = f & ts.SymbolFlags.Class ? 'class'
    : f & ts.SymbolFlags.Enum ? 'enum'
    : f & ts.SymbolFlags.Function ? 'function'
    : f & ts.SymbolFlags.Variable ? 'const'
    : f & ts.SymbolFlags.Interface ? 'interface'
    : f & ts.SymbolFlags.TypeAlias ? 'type'
    : f & ts.SymbolFlags.Module ? 'namespace'
    : 'other';
  return typeOnly && (kind === 'class' || kind === 'enum' || kind === 'const' || kind === 'function') ? `${kind} (type only)` : kind;
}

function report(entry: EntryPoint, program: ts.Program): string {
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(join(root, entry.source));
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  if (!moduleSymbol) throw new Error(`${entry.source}: no such module`);
  const rows = checker.getExportsOfModule(moduleSymbol)
    .map((s) => [s.name, kindOf(checker, s)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    `# \`${entry.specifier}\`: ${rows.length} exported names`,
    '',
    `From \`${entry.source}\`. Written by \`npm run api:update\`, compared by \`npm run api:check\` (before \`npm test\`).`,
    '',
    '| name | kind |',
    '|---|---|',
    ...rows.map(([name, kind]) => `| \`${name}\` | ${kind} |`),
    '',
  ].join('\n');
}

const update = process.argv.includes('--update');
const entries = entryPoints();
const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
if (!config) throw new Error('tsconfig.json does not parse');
// Only the entry points as roots: the checker resolves what they import, nothing else is read.
// Export lists need our own modules only: no lib, no @types, and packages read as empty modules
// (parsing them took 3 of the 5 seconds). A name re-exported from a package would show as `other`.
const options = { ...config.options, noLib: true, types: [] };
const host = ts.createCompilerHost(options);
const readSource = host.getSourceFile.bind(host);
host.getSourceFile = (name, language, ...rest) =>
  name.includes('/node_modules/') ? ts.createSourceFile(name, 'export {};', language) : readSource(name, language, ...rest);
const program = ts.createProgram(entries.map((e) => join(root, e.source)), options, host);
mkdirSync(reportDir, { recursive: true });
const expected = new Set(entries.map((e) => e.report));
const stale = readdirSync(reportDir).filter((f) => f.endsWith('.api.md') && !expected.has(f));
let failures = 0;
for (const entry of entries) {
  const text = report(entry, program);
  const path = join(reportDir, entry.report);
  let old = '';
  try { old = readFileSync(path, 'utf8'); } catch { /* a new entry point */ }
  if (old === text) continue;
  if (update) {
    writeFileSync(path, text);
    console.log(`api/${entry.report}: updated`);
  } else {
    failures++;
    const lines = (t: string) => new Set(t.split('\n').filter((l) => l.startsWith('| `')));
    const [was, now] = [lines(old), lines(text)];
    console.error(`api/${entry.report}: \`${entry.specifier}\` exports changed`);
    for (const l of now) if (!was.has(l)) console.error(`  + ${l}`);
    for (const l of was) if (!now.has(l)) console.error(`  - ${l}`);
  }
}
for (const f of stale) {
  failures++;
  console.error(`api/${f}: no entry point in package.json "exports" has this report; delete it`);
}
if (failures) {
  console.error('The public surface changed. If that is meant, run `npm run api:update` and commit api/.');
  process.exit(1);
}
if (!update) console.log(`api: ${entries.length} entry points match their reports`);
