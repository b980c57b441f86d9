// Test mirror: lays out the registry's files (copied from the shared data kit, found by sha256) in a temp folder
// under their registry-relative paths and serves it with a real node:http server on 127.0.0.1, so registry tests
// exercise real downloads without ever reaching the internet.
import { promises as fs } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { registryEntries, type RegistryFile } from '../../lib/registry';
import { dataPath } from './data';

/** Every distinct file the registry can fetch (models and label files). */
export function registryFiles(): RegistryFile[] {
  const files = new Map<string, RegistryFile>();
  for (const e of registryEntries()) {
    files.set(e.model.relativePath, e.model);
    if (e.labels !== 'embedded') files.set(e.labels.relativePath, e.labels);
  }
  return [...files.values()];
}

/** The data kit's files by sha256, read from its SHA256SUMS. */
export async function dataFilesBySha(): Promise<Map<string, string>> {
  const text = await fs.readFile(dataPath('SHA256SUMS'), 'utf8');
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) out.set(m[1], dataPath(m[2]));
  }
  return out;
}

export interface MirrorOptions {
  /** Relative paths to serve with one byte flipped (a corrupt mirror). */
  corrupt?: string[];
  /** Relative paths to leave out (the server answers 404). */
  missing?: string[];
}

/** Creates a temp folder laid out like a mirror; returns its path. */
export async function buildMirrorDir(options: MirrorOptions = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-mirror-'));
  const bySha = await dataFilesBySha();
  for (const file of registryFiles()) {
    if (options.missing?.includes(file.relativePath)) continue;
    const local = bySha.get(file.sha256);
    if (!local) throw new Error(`no file with sha256 ${file.sha256} (registry ${file.relativePath}) in the data kit's SHA256SUMS`);
    const dest = path.join(dir, ...file.relativePath.split('/'));
    await fs.mkdir(path.dirname(dest), { recursive: true });
    if (options.corrupt?.includes(file.relativePath)) {
      const bytes = await fs.readFile(local);
      bytes[bytes.length >> 1] ^= 0x01;
      await fs.writeFile(dest, bytes);
    } else {
      await fs.copyFile(local, dest);
    }
  }
  return dir;
}

export interface Mirror {
  /** Base URL, e.g. http://127.0.0.1:40123/base */
  url: string;
  dir: string;
  /** Request paths (relative to the base) in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Builds a mirror folder and serves it over HTTP on 127.0.0.1 (port chosen by the OS) under /base, so the
 * tests also check that a base URL with a path is joined correctly.
 */
export async function startMirror(options: MirrorOptions = {}): Promise<Mirror> {
  const dir = await buildMirrorDir(options);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rel = decodeURIComponent(url.pathname).replace(/^\/base\//, '');
    requests.push(rel);
    const file = path.resolve(dir, ...rel.split('/'));
    if (!url.pathname.startsWith('/base/') || !file.startsWith(dir + path.sep)) {
      res.writeHead(404).end();
      return;
    }
    fs.readFile(file).then(
      (bytes) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
        res.end(bytes);
      },
      () => res.writeHead(404, 'Not Found').end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/base`,
    dir,
    requests,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback port with nothing listening: bound once by the OS, then released. Connections to it are refused. */
export async function closedLoopbackPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
