#!/usr/bin/python3
"""Opens modl synth shards the way fastMRI's SliceDataset does, with h5py only.

usage: /usr/bin/python3 scripts/check-fastmri.py DIR_OR_FILE [...]

For a dataset folder (with manifest.json), checks every shard under DIR/data.
Per file it repeats fastMRI's metadata pass (fastmri/data/mri_data.py,
SliceDataset.__init__: the ISMRMRD header's encodedSpace / reconSpace matrix
sizes and kspace_encoding_step_1 limits, read with xml.etree and the ISMRMRD
namespace) and its __getitem__ (hf["kspace"][i], hf["mask"],
hf["reconstruction_rss"][i], hf.attrs), then checks what the modl layout
promises: shapes, complex64, the RSS reference equal to the RSS of the inverse
FFT of the fully sampled k-space, attrs max/norm, and that A(target) matches
the k-space on the sampled positions to within the recorded noise level.
Needs Debian's python3-h5py and numpy. Prints one line per file; exit 1 on failure.
"""
import json
import os
import sys
import xml.etree.ElementTree as etree

import h5py
import numpy as np

NS = {"ismrmrd_namespace": "http://www.ismrm.org/ISMRMRD"}


def et_query(root, qlist):
    """fastMRI's et_query: nested search under the ISMRMRD namespace."""
    path = "." + "".join(f"//ismrmrd_namespace:{el}" for el in qlist)
    return root.find(path, NS).text


def fastmri_metadata(hf):
    """What SliceDataset.__init__ computes for each file."""
    et_root = etree.fromstring(hf["ismrmrd_header"][()])
    enc = ["encoding", "encodedSpace", "matrixSize"]
    enc_size = tuple(int(et_query(et_root, enc + [a])) for a in "xyz")
    rec = ["encoding", "reconSpace", "matrixSize"]
    recon_size = tuple(int(et_query(et_root, rec + [a])) for a in "xyz")
    lims = ["encoding", "encodingLimits", "kspace_encoding_step_1"]
    enc_limits_center = int(et_query(et_root, lims + ["center"]))
    enc_limits_max = int(et_query(et_root, lims + ["maximum"])) + 1
    padding_left = enc_size[1] // 2 - enc_limits_center
    padding_right = padding_left + enc_limits_max
    return {
        "padding_left": padding_left,
        "padding_right": padding_right,
        "encoding_size": enc_size,
        "recon_size": recon_size,
        "num_slices": hf["kspace"].shape[0],
    }


def ifft2c(k):
    """Centred unitary inverse FFT over the last two axes (fastMRI's fastmri.ifft2c)."""
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=axes), axes=axes, norm="ortho"), axes=axes)


def fft2c(x):
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho"), axes=axes)


def check_file(path):
    problems = []
    with h5py.File(path, "r") as hf:
        meta = fastmri_metadata(hf)
        S, C, H, W = hf["kspace"].shape
        if hf["kspace"].dtype != np.complex64:
            problems.append(f"kspace dtype {hf['kspace'].dtype}")
        if meta["encoding_size"] != (H, W, 1) or meta["recon_size"] != (H, W, 1):
            problems.append(f"header sizes {meta['encoding_size']} {meta['recon_size']} vs kspace {H}x{W}")
        if meta["padding_left"] != 0 or meta["padding_right"] != W:
            problems.append(f"padding {meta['padding_left']}..{meta['padding_right']} (expected 0..{W})")
        mask_all = np.asarray(hf["mask"]) if "mask" in hf else None  # as __getitem__ reads it
        attrs = dict(hf.attrs)
        rss_max = 0.0
        rss_ss = 0.0
        for i in range(S):  # __getitem__, one slice at a time
            kspace = hf["kspace"][i]
            target = hf["reconstruction_rss"][i]
            rss = np.sqrt((np.abs(ifft2c(kspace)) ** 2).sum(0))
            err = np.abs(rss - target).max() / max(1e-12, np.abs(target).max())
            if err > 1e-4:
                problems.append(f"slice {i}: reconstruction_rss differs from RSS(ifft2c(kspace)) by {err:.2e}")
            rss_max = max(rss_max, float(target.max()))
            rss_ss += float((target.astype(np.float64) ** 2).sum())
            # SENSE forward model on the sampled positions: M F S x vs M y, within the noise
            x = hf["target"][i]
            maps = hf["maps"][i]
            mask = mask_all[i]
            model = fft2c(maps * x[None]) * mask[None]
            resid = (kspace * mask[None]) - model
            sigma = float(hf["noise_sigma"][i])
            n = C * mask.sum()
            noise_rms = np.sqrt((np.abs(resid) ** 2).sum() / n)
            if sigma == 0 and noise_rms > 1e-5 * np.abs(model).max():
                problems.append(f"slice {i}: noiseless but k-space - A(target) has RMS {noise_rms:.2e}")
            if sigma > 0 and abs(noise_rms / sigma - 1) > 0.05:
                problems.append(f"slice {i}: residual RMS {noise_rms:.4g} vs recorded noise sigma {sigma:.4g}")
        if abs(attrs.get("max", -1) - rss_max) > 1e-5 * rss_max:
            problems.append(f"attrs max {attrs.get('max')} vs {rss_max}")
        if abs(attrs.get("norm", -1) - np.sqrt(rss_ss)) > 1e-4 * np.sqrt(rss_ss):
            problems.append(f"attrs norm {attrs.get('norm')} vs {np.sqrt(rss_ss)}")
    status = "ok" if not problems else "FAIL: " + "; ".join(problems)
    print(f"{path}: {S} slices x {C} coils x {H}x{W}, enc {meta['encoding_size']}, attrs max {attrs.get('max'):.4g}: {status}")
    return not problems


def main(args):
    if not args:
        print(__doc__)
        return 2
    files = []
    for a in args:
        if os.path.isdir(a):
            with open(os.path.join(a, "manifest.json")) as f:
                manifest = json.load(f)
            files += [os.path.join(a, s["file"]) for s in manifest["shards"]]
        else:
            files.append(a)
    ok = all([check_file(f) for f in files])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
