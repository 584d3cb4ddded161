#!/usr/bin/python3
"""Writes the README protocol's undersampled cases of the real validation slice as
fastMRI-layout HDF5 files, so that `modl site-retrain --kspace` and `modl recon`
meet exactly what `modl eval --real` scores.

usage: /usr/bin/python3 scripts/real-case-h5.py KSPACE_DIR OUT_DIR

KSPACE_DIR is ../shared/data/kspace (brain_alias_8ch_full, its two BART map sets,
its reference and brain_alias_8ch_masks). One file per protocol mask,
OUT_DIR/case_R{4,6,8}_s{0,1,2}.h5, each holding:
  kspace  [1, 8, 320, 168] complex64  the full k-space scaled to max|k| = 1, masked
  mask    [168]            float32    the 1D mask (phase encodes along the last axis)
  maps    [1, 2, 8, 320, 168]         BART's two ESPIRiT map sets (ecalib -m2 -r 24)
  target  [1, 2, 320, 168]            the SENSE combination of the full data with them:
                                      its RSS over the two sets is the README reference
The layout is the transpose of the .cfl files (as `modl eval --real` reads them), so
networks see the same orientation. Needs Debian's python3-h5py and numpy.
"""
import os
import sys

import h5py
import numpy as np


def read_cfl(base):
    with open(base + '.hdr') as f:
        dims = [int(x) for x in f.read().split('\n')[1].split()]
    return np.fromfile(base + '.cfl', dtype=np.complex64).reshape(dims, order='F')


def main(src, out):
    case = os.path.join(src, 'brain_alias_8ch_full')
    k = read_cfl(case)[0]                                   # [320, 168, 8]
    k = k / np.abs(k).max()
    maps = read_cfl(case + '_espirit2_bart')[0]             # [320, 168, 8, 2]
    axes = (0, 1)
    coils = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=axes), axes=axes, norm='ortho'), axes=axes)
    target = np.einsum('xycs,xyc->sxy', np.conj(maps), coils)  # [2, 320, 168]
    reference = np.abs(read_cfl(case + '_reference')[0])
    err = np.linalg.norm(np.sqrt((np.abs(target) ** 2).sum(0)) - reference) / np.linalg.norm(reference)
    if err > 1e-5:
        sys.exit(f'{case}: the target does not reproduce the README reference (relative error {err:.2e})')
    os.makedirs(out, exist_ok=True)
    for R in (4, 6, 8):
        for seed in (0, 1, 2):
            m = np.abs(read_cfl(os.path.join(src, 'brain_alias_8ch_masks', f'mask_R{R}_s{seed}'))[0]) > 0
            line = m[0]
            if not (m == line[None, :]).all():
                sys.exit(f'mask_R{R}_s{seed}: not a 1D mask along the 168-long axis')
            path = os.path.join(out, f'case_R{R}_s{seed}.h5')
            with h5py.File(path + '.part', 'w') as f:
                f['kspace'] = (k * m[:, :, None]).transpose(2, 0, 1)[None].astype(np.complex64)
                f['mask'] = line.astype(np.float32)
                f['maps'] = maps.transpose(3, 2, 0, 1)[None].astype(np.complex64)
                f['target'] = target[None].astype(np.complex64)
            os.replace(path + '.part', path)
            print(f'{path}: {int(line.sum())} of 168 lines')


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
