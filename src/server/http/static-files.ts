/**
 * Static files (the web demo), loaded into memory when the gateway starts: only files that exist in
 * the folder at that moment can be served, so no request path can reach outside it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { HttpExchange } from './exchange.js';

interface StaticFile { body: Buffer; type: string; etag: string; cacheControl: string }

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Pages may only load their own scripts and styles and talk to this gateway. */
const PAGE_POLICY = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  constructor(dir: string) {
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        if (name.startsWith('.')) continue;
        const path = join(d, name);
        if (statSync(path).isDirectory()) walk(path);
        else this.add('/' + relative(dir, path).split(sep).join('/'), readFileSync(path));
      }
    };
    walk(dir);
    const index = this.files.get('/index.html');
    if (index) this.files.set('/', index);
  }

  private add(path: string, body: Buffer): void {
    const type = TYPES[extname(path)];
    if (!type) return;
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    // HTML is revalidated on every load; assets may be reused for a few minutes.
    const cacheControl = type.startsWith('text/html') ? 'no-cache' : 'public, max-age=300';
    this.files.set(path, { body, type, etag, cacheControl });
  }

  /** Serves the file for this request; false when there is none (the caller answers 404). */
  serve(exchange: HttpExchange): boolean {
    const file = this.files.get(exchange.path);
    if (!file) return false;
    if (exchange.header('if-none-match') === file.etag) {
      exchange.respond(304, { ETag: file.etag });
      return true;
    }
    const headers: Record<string, string> = { 'Content-Type': file.type, ETag: file.etag, 'Cache-Control': file.cacheControl, 'X-Content-Type-Options': 'nosniff' };
    if (file.type.startsWith('text/html')) headers['Content-Security-Policy'] = PAGE_POLICY;
    exchange.respond(200, headers, file.body);
    return true;
  }
}
