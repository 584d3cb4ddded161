import { initBackend } from './src/backend/index.js';
import { ModlReconstructor } from './src/nn/infer.js';
import { loadRealCase } from './src/nn/real-validation.js';
import { evaluateRealCase } from './src/recon/real-case.js';
await initBackend({});
const c = loadRealCase('/work/shared/data/kspace');
for (const dir of process.argv.slice(2)) {
  const net = ModlReconstructor.load(dir);
  const rows = evaluateRealCase(c, { net, bart: false });
  console.log(dir, rows.filter((r) => r.method === 'MoDL').map((r) => `${r.acceleration}x ${r.metrics.psnr.toFixed(3)}/${r.metrics.ssim.toFixed(4)}`).join('  '));
  net.model.dispose();
}
