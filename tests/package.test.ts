/**
 * modl as a user installs it: `npm pack`, the tarball installed into an empty
 * project (dependencies from the npm cache that `npm ci` filled), then a script
 * there imports the package by its name and reconstructs a simulated slice
 * with CG-SENSE and the shipped MoDL checkpoint that the tarball carries.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = existsSync(join(root, 'dist', 'src', 'index.js'));
const tmp = mkdtempSync(join(tmpdir(), 'modl-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const script = `
import { initBackend, PhantomGenerator, simulatePair, cgSense, zeroFilledSense, ModlReconstructor, shippedCheckpoint, imageMetrics, cabs, CG_SENSE_DEFAULTS, SenseOp } from 'modl';
await initBackend({ backend: 'wasm', threads: 1 });
const [H, W] = [64, 48];
const [data] = await new PhantomGenerator({}).sample(1, 7, [H, W]);
const pair = simulatePair({ data, shape: [H, W] }, 1, { coils: 4, snrDb: 40, mask: { kind: 'random', acceleration: 3 } });
const net = ModlReconstructor.load(shippedCheckpoint('modl'));
const [modl] = await net.reconstruct([{ kspace: pair.kspace, maps: pair.maps, mask: pair.mask }]);
const score = (x) => imageMetrics(cabs(pair.target), cabs(x), H, W).psnr;
// the operator interface: Re⟨A x, y⟩ = Re⟨x, Aᴴ y⟩
const op = new SenseOp(pair.maps, pair.mask), x = pair.target.data, y = pair.kspace.data;
const Ax = new Float32Array(y.length), Aty = new Float32Array(x.length);
op.forward(x, [Ax]);
op.adjoint([y], Aty);
const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
console.log(JSON.stringify({
  checkpoint: net.path,
  zeroFilled: score(zeroFilledSense(pair.kspace, pair.maps, pair.mask)),
  cgsense: score(cgSense(pair.kspace, pair.maps, pair.mask, CG_SENSE_DEFAULTS).image),
  modl: score(modl),
  adjointGap: Math.abs(dot(Ax, y) - dot(x, Aty)) / Math.abs(dot(Ax, y)),
}));
`;

describe.skipIf(!built)('the packed package', () => {
  it('installs from its tarball and reconstructs by `import … from "modl"`', () => {
    const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // dist/ is what `npm ci` built (prepare); packing must not rebuild it under a running suite
    npm(['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], root);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
    const app = join(tmp, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    npm(['install', '--prefer-offline', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', join(tmp, tarball)], app);
    expect(existsSync(join(app, 'node_modules', '.bin', 'modl'))).toBe(true);
    writeFileSync(join(app, 'use.mjs'), script);
    const out = JSON.parse(execFileSync('node', ['use.mjs'], { cwd: app, encoding: 'utf8' }).trim().split('\n').pop()!);
    expect(out.checkpoint).toBe(join(app, 'node_modules', 'modl', 'checkpoints', 'modl'));
    expect(out.cgsense).toBeGreaterThan(out.zeroFilled);
    expect(out.modl).toBeGreaterThan(out.zeroFilled);
    expect(out.adjointGap).toBeLessThan(1e-5);
  }, 300_000);
});
