/**
 * Serves the web console's built bundle (dist/console, from `npm run
 * build:console`) at `/` on the server's port: static files with their
 * content types, long caching for Vite's content-hashed assets, no caching
 * for index.html, and index.html for any other GET path (the console's
 * client-side routes). Paths that escape the bundle's directory are refused.
 * The console talks to the server only through the public REST API.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where `npm run build:console` writes the bundle, beside dist/server. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../console/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/**
 * Applied to every console response. The console renders what agents and
 * users send as text; this policy is the second line: no inline or foreign
 * script runs even if some markup got through.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** Files under this prefix carry a content hash in their name: cache them for a year. */
const HASHED_PREFIX = '/assets/';
/** Longest request path considered; longer ones are not console routes. */
const MAX_PATH_CHARS = 2048;

export interface ConsoleStatic {
  /** The bundle directory served. */
  root: string;
  /**
   * Answers a GET or HEAD for `path` (already stripped of the query) and
   * returns true, or returns false and leaves the request alone (another
   * method, or a path that is not the console's).
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

/** Null when `root` holds no built console (no index.html): the server then serves only its API. */
export function consoleStatic(root: string = DEFAULT_CONSOLE_DIR): ConsoleStatic | null {
  const dir = resolve(root);
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return null;

  const send = (req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string) => {
    res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const notFound = (req: IncomingMessage, res: ServerResponse) => send(req, res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'not found\n');

  return {
    root: dir,
    handle(req, res, path) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path.length > MAX_PATH_CHARS) {
        notFound(req, res);
        return true;
      }
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        send(req, res, 400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'bad path encoding\n');
        return true;
      }
      if (decoded.includes('\0') || decoded.includes('\\')) {
        notFound(req, res);
        return true;
      }
      // Resolve inside the bundle; anything that lands outside it (../, encoded or not) is refused.
      const file = resolve(dir, '.' + normalize('/' + decoded));
      if (file !== dir && !file.startsWith(dir + sep)) {
        notFound(req, res);
        return true;
      }
      let isFile = false;
      try {
        isFile = statSync(file).isFile();
      } catch {
        isFile = false;
      }
      if (isFile && file !== indexFile) {
        const hashed = decoded.startsWith(HASHED_PREFIX);
        send(req, res, 200, {
          'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
          'Cache-Control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
        }, readFileSync(file));
        return true;
      }
      // A missing asset is a 404 (a stale page asking for an old hash must not get HTML as script).
      if (decoded.startsWith(HASHED_PREFIX) || extname(decoded) !== '') {
        if (file !== indexFile) {
          notFound(req, res);
          return true;
        }
      }
      // A client route: the console's page, which routes itself.
      send(req, res, 200, { 'Content-Type': CONTENT_TYPES['.html']!, 'Cache-Control': 'no-cache' }, readFileSync(indexFile));
      return true;
    },
  };
}
