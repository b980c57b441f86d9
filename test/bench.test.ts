// `mobilenet bench` and `mobilenet profile` end to end: rows for every available backend, auto agreeing with
// the fastest row, and per-layer times (read inside the backend call) adding up to the whole inference.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { load } from '../lib';
import { profileModel } from '../lib/cli/profile';
import { availableBackends } from './helpers/run';
import { probeBackends } from './helpers/probe';
import { REPO_ROOT } from './helpers/data';

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(REPO_ROOT, 'lib', 'cli', 'index.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MOBILENET_PROGRESS: '0', MOBILENET_CACHE_DIR: path.join(REPO_ROOT, '.cache', 'bench-test') },
    timeout: 300000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bench --json without --backend: a row per available backend, the fields the issue names, auto = fastest', async () => {
  const available = await availableBackends();
  const r = cli(['bench', '--arch', 'mobilenet_v2', '--alpha', '0.5', '--resolution', '160', '--threads', '1', '--runs', '5', '--warmup', '2', '--json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines[0].environment.node).toBe(process.version);
  const rows = lines.slice(1, -1);
  expect(rows.map((x) => x.backend)).toEqual(available);
  for (const row of rows) {
    for (const k of ['backend', 'isa', 'threads', 'batch', 'runs', 'macs', 'min_ms', 'median_ms', 'p90_ms', 'images_per_s', 'gflops', 'peak_fraction']) expect(row).toHaveProperty(k);
    expect(row.min_ms).toBeLessThanOrEqual(row.median_ms);
    expect(row.median_ms).toBeLessThanOrEqual(row.p90_ms);
    expect(row.gflops).toBeCloseTo((2 * row.macs) / (row.median_ms * 1e6), 6);
  }
  const last = lines[lines.length - 1];
  const fastest = rows.reduce((a, b) => (b.median_ms < a.median_ms ? b : a)).backend;
  expect(last).toEqual({ auto: fastest, fastest });
});

test('bench rejects bad arguments with one line and exit 2', () => {
  const r = cli(['bench', '--backend', 'gpu']);
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^mobilenet: E_ARG: Expected --backend/);
});

const PROBE = probeBackends();

for (const backend of ['native', 'wasm-simd'] as const) {
  const probe = PROBE.find((p) => p.name === backend)!;
  const name = `profile on ${backend}: per-layer times sum to within 10% of the whole inference`;
  if (!probe.available) {
    test.skip(`${name} (SKIPPED, not runnable here: ${probe.reason})`, () => {});
    continue;
  }
  test(name, async () => {
    const model = await load({ arch: 'mobilenet_v2', alpha: 1, resolution: 224, seed: 2 }, { backend, threads: 1 });
    try {
      const result = await profileModel(model, 15);
      expect(result.layers).toHaveLength(model.steps.length);
      console.log(`${backend}: layers ${result.layers_ms.toFixed(3)} ms vs whole ${result.total_ms.toFixed(3)} ms; per-run sum/whole median ${result.coverage.toFixed(3)}`);
      expect(result.coverage).toBeGreaterThan(0.9);
      expect(result.coverage).toBeLessThan(1.1);
      expect(result.layers_ms / result.total_ms).toBeGreaterThan(0.8);
      expect(Object.keys(result.by_op)).toEqual(expect.arrayContaining(['conv2d', 'dwconv', 'pwconv']));
    } finally {
      model.dispose();
    }
  });
}
