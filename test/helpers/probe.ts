// Which backends exist here, known synchronously: jest collects tests synchronously but availability() is
// async, so a child process asks every backend first; the answer decides test vs test.skip (with the reason).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Availability, BackendName } from '../../lib/backends/types';

export interface Probe { name: BackendName; available: boolean; reason?: string; isas?: string[] }
export function probeBackends(): Probe[] {
  const names: BackendName[] = ['native', 'wasm-relaxed', 'wasm-simd'];
  const script = `
    const { getBackend } = require('./lib/backends');
    (async () => {
      const out = [];
      for (const name of ${JSON.stringify(names)}) {
        try { out.push(await getBackend(name).availability()); }
        catch (e) { out.push({ name, available: false, reason: 'availability() threw: ' + e.message }); }
      }
      process.stdout.write(JSON.stringify(out));
    })();`;
  try {
    const text = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: path.resolve(__dirname, '..', '..'), encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(text) as Availability[]).map((a) => ({
      name: a.name,
      available: a.available,
      reason: a.reason?.replace(/\s+/g, ' '),
      isas: Array.isArray(a.detail?.isas) ? (a.detail!.isas as string[]) : undefined,
    }));
  } catch (e) {
    return names.map((name) => ({ name, available: false, reason: `the availability probe failed: ${(e as Error).message.split('\n')[0]}` }));
  }
}
