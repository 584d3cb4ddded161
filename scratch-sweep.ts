import { initBackend } from './src/backend/index.js';
import { ModlReconstructor } from './src/nn/infer.js';
import { loadRealCase } from './src/nn/real-validation.js';
import { evaluateRealCase } from './src/recon/real-case.js';
await initBackend({});
const c = loadRealCase('/work/shared/data/kspace');
const net = ModlReconstructor.load(process.argv[2]!);
for (const [k, cg] of [[10, 10], [10, 20], [12, 10], [14, 10]] as const) {
  net.model.stages = k;
  net.model.cgIterations = cg;
  const rows = evaluateRealCase(c, { net, bart: false, seeds: [0] });
  console.log(`K=${k} CG=${cg}`, rows.filter((r) => r.method === 'MoDL').map((r) => `${r.acceleration}x ${r.metrics.psnr.toFixed(3)}/${r.metrics.ssim.toFixed(4)}`).join('  '));
}
