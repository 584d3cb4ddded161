/**
 * What the learned generators add to the shipped recipe, measured on the real
 * validation case: from one checkpoint of the shipped run, the same number of
 * steps of the same stage recipe with a share of the training images drawn from
 * the shipped GAN instead of the real volumes, for each share asked for
 * (0 is the recipe as it is), then every arm scored by the README's protocol
 * (3 seeds, 4×/6×/8×). Arms resume like any training run.
 *
 *   npm run build && node dist/pipelines/ablate-generators.js [--from STAGE_DIR] [--steps 50] [--shares 0,0.3]
 *
 * writes OUT/results.md and OUT/results.json (OUT: checkpoints/modl-training/ablation-gan).
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { ModlReconstructor } from '../src/nn/infer.js';
import { loadRealCase } from '../src/nn/real-validation.js';
import { SHIPPED_RECIPE } from '../src/nn/simulated-source.js';
import { train } from '../src/nn/train.js';
import { evaluateRealCase, realCaseTable, type RealCaseRow } from '../src/study/real-case.js';
import { resolveCheckpoint, writeFileAtomic } from '../src/util/fs.js';
import { packageRoot } from '../src/util/paths.js';
import { CURRICULUM, shippedData, TRAINING_SEED } from './train-shipped.js';

const STEPS_PER_EPOCH = 25;

export async function ablateGenerators(o: { from: string; out: string; sharedData: string; steps: number; shares: number[]; log?: (s: string) => void }): Promise<string> {
  const log = o.log ?? console.log;
  const start = join(o.out, 'start');
  // every arm starts from the same weights, kept here (the run `from` belongs to may go on)
  if (!existsSync(start)) cpSync(resolveCheckpoint(o.from), start, { recursive: true });
  const stage = CURRICULUM[CURRICULUM.length - 1]!;
  const data = await shippedData(o.sharedData);
  const realCase = loadRealCase(join(o.sharedData, 'kspace'));
  const score = async (dir: string) => {
    const net = ModlReconstructor.load(dir);
    const rows = await evaluateRealCase(realCase, { net, bart: false });
    net.dispose();
    return rows;
  };
  const results: { share: number | null; steps: number; rows: RealCaseRow[] }[] = [{ share: null, steps: 0, rows: await score(start) }];
  for (const share of o.shares) {
    const dir = join(o.out, `gan-${share}`);
    const source = await data.train({ recipe: { ...SHIPPED_RECIPE, ...stage.recipe }, ganShare: share });
    const result = await train({
      outDir: dir, train: source, validation: data.synthValidation,
      model: loadCheckpoint(start).model, stages: stage.stages, epochs: Math.ceil(o.steps / STEPS_PER_EPOCH), stepsPerEpoch: STEPS_PER_EPOCH,
      batchSize: stage.batchSize, learningRate: stage.learningRate, clipNorm: 1, loss: 'mse', seed: TRAINING_SEED, resume: true,
      keepCheckpoints: 1, frozenStats: stage.frozenStats, trainedOn: { train: source.describe(), coilMaps: data.coilMaps, curriculumStage: { ...stage, ganShare: share }, init: o.from, ablation: true },
      onEpoch: (e) => log(`GAN share ${share}: epoch ${e.epoch}, real 4× ${e.validationSets?.['real-4x']?.modl.psnr.toFixed(2) ?? '-'} dB`),
      validationSets: { 'real-4x': data.real['real-4x']! },
    });
    result.model.dispose();
    const rows = await score(dir);
    log(`GAN share ${share}:\n${realCaseTable(rows)}`);
    results.push({ share, steps: o.steps, rows });
  }
  const mean = (rows: RealCaseRow[], R: number) => rows.find((r) => r.acceleration === R && r.method === 'MoDL')!.metrics;
  const table = [
    `From \`${o.from}\` (${stage.name} recipe), ${o.steps} steps per arm; real case, mean of 3 seeds, PSNR dB / SSIM:`,
    '',
    '| GAN share of training images | 4× | 6× | 8× |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${r.share ?? 'the start (0 steps)'} | ${[4, 6, 8].map((R) => `${mean(r.rows, R).psnr.toFixed(2)} / ${mean(r.rows, R).ssim.toFixed(3)}`).join(' | ')} |`),
  ].join('\n');
  writeFileAtomic(join(o.out, 'results.md'), `${table}\n`);
  writeFileAtomic(join(o.out, 'results.json'), JSON.stringify(results.map((r) => ({ share: r.share, steps: r.steps, real: r.rows.map(({ acceleration, method, metrics }) => ({ acceleration, method, ...metrics })) })), null, 2));
  return table;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'));
if (isMain) {
  const runDir = join(packageRoot(), 'checkpoints', 'modl-training');
  const { values } = parseArgs({
    options: {
      from: { type: 'string', default: join(runDir, CURRICULUM[CURRICULUM.length - 1]!.name) },
      out: { type: 'string', default: join(runDir, 'ablation-gan') },
      data: { type: 'string', default: join(packageRoot(), '..', 'shared', 'data') },
      steps: { type: 'string', default: '50' },
      shares: { type: 'string', default: '0,0.3' },
    },
  });
  console.log(`backend: ${(await initBackend({})).description}`);
  console.log(await ablateGenerators({
    from: values.from!, out: values.out!, sharedData: values.data!, steps: Number(values.steps), shares: values.shares!.split(',').map(Number),
  }));
}
