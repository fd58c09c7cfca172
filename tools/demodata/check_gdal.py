"""Checks tilefn-demodata outputs with GDAL (rasterio's bundled GDAL), independently of the
tiff crate: CRS, bounds, nodata, data type, a full decode, and that the content is what the
scene promises (NDVI of vegetation vs water, land-cover classes, DEM range).

    .venv/bin/python tools/demodata/check_gdal.py DIR [--png OUTDIR]

DIR holds dem.tif, multispectral.tif, landcover.tif and rgb.tif as written by
`tilefn-demodata all`. Prints one JSON line per file; exits 1 if any expectation fails.
--png writes 512-pixel quick-looks for eyeballing.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import rasterio
import rasterio.errors
from rasterio.enums import Resampling

# Quick-look PNGs carry no georeferencing on purpose.
warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)

EXPECT = {
    "dem.tif": {"crs": "EPSG:32633", "dtype": "float32", "count": 1, "nodata": -9999.0, "res": 30.0},
    "multispectral.tif": {"crs": "EPSG:4326", "dtype": "uint16", "count": 4, "nodata": 0.0, "res": 0.00025},
    "landcover.tif": {"crs": "EPSG:32633", "dtype": "uint8", "count": 1, "nodata": 0.0, "res": 30.0},
    "rgb.tif": {"crs": "EPSG:4326", "dtype": "uint8", "count": 3, "nodata": None, "res": 0.0001},
}


def check(path, want, png_dir):
    problems = []
    with rasterio.open(path) as ds:
        info = {
            "file": os.path.basename(path),
            "size": [ds.width, ds.height],
            "crs": ds.crs.to_string() if ds.crs else None,
            "bounds": list(ds.bounds),
            "res": list(ds.res),
            "dtype": ds.dtypes[0],
            "count": ds.count,
            "nodata": ds.nodata,
            "compression": ds.compression.value if ds.compression else None,
            "block": ds.block_shapes[0],
        }
        for key in ("crs", "dtype", "count", "nodata"):
            if info[key] != want[key]:
                problems.append(f"{key}: {info[key]!r} != {want[key]!r}")
        if any(abs(r - want["res"]) > 1e-12 for r in ds.res):
            problems.append(f"res {ds.res}")
        # Read window by window: the 8192² files must not need 1 GB here either.
        step = 1024
        valid = 0
        lo, hi = np.inf, -np.inf
        classes = np.zeros(256, dtype=np.int64)
        ndvi_veg = ndvi_water = 0
        for row in range(0, ds.height, step):
            win = rasterio.windows.Window(0, row, ds.width, min(step, ds.height - row))
            data = ds.read(window=win)
            mask = ds.dataset_mask(window=win) > 0
            valid += int(mask.sum())
            if mask.any():
                v = data[:, mask]
                lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
            if info["file"] == "landcover.tif":
                classes += np.bincount(data[0].ravel(), minlength=256)
            if info["file"] == "multispectral.tif" and mask.any():
                red = data[2][mask].astype(np.float64)
                nir = data[3][mask].astype(np.float64)
                ndvi = (nir - red) / (nir + red)
                ndvi_veg += int((ndvi > 0.5).sum())
                ndvi_water += int((ndvi < 0.0).sum())
        info["valid_fraction"] = valid / (ds.width * ds.height)
        info["min"], info["max"] = lo, hi
        if info["file"] == "dem.tif" and not (150 <= lo and hi <= 4500 and 0.7 < info["valid_fraction"] < 0.99):
            problems.append(f"dem range {lo}..{hi}, valid {info['valid_fraction']:.3f}")
        if info["file"] == "landcover.tif":
            info["classes"] = {str(c): int(n) for c, n in enumerate(classes) if n}
            if classes[0] == 0 or np.count_nonzero(classes[1:9]) < 6 or classes[9:].any():
                problems.append(f"landcover classes {info['classes']}")
        if info["file"] == "multispectral.tif":
            info["ndvi_gt_0.5"] = ndvi_veg / max(valid, 1)
            info["ndvi_lt_0"] = ndvi_water / max(valid, 1)
            if info["ndvi_gt_0.5"] < 0.1 or info["ndvi_lt_0"] < 0.01:
                problems.append("multispectral lacks vegetation or water")
        if png_dir:
            quicklook(ds, os.path.join(png_dir, info["file"].replace(".tif", ".png")))
    info["problems"] = problems
    return info


def quicklook(ds, out):
    n = 512
    data = ds.read(out_shape=(ds.count, n, n), resampling=Resampling.nearest, masked=True)
    if ds.count == 4:
        data = data[[3, 2, 1]]  # false colour NIR/R/G: vegetation shows red
    if ds.count >= 3:
        img = data[:3].astype(np.float64)
    elif ds.dtypes[0] == "float32":
        # Hillshade (sun from the north-west) shows whether the terrain looks like terrain.
        z = data[0].filled(np.nan).astype(np.float64)
        dy, dx = np.gradient(z, ds.res[1] * ds.height / n, ds.res[0] * ds.width / n)
        shade = np.clip((-dx + dy) / np.sqrt(2) / np.sqrt(1 + dx * dx + dy * dy) + 0.6, 0, None)
        img = np.ma.masked_invalid(np.stack([shade * (0.4 + z / 6000)] * 3))
    else:
        img = np.repeat(data[:1].astype(np.float64), 3, axis=0)
    lo, hi = np.percentile(img.compressed(), [1, 99])
    img = np.clip((img - lo) / max(hi - lo, 1e-9) * 255, 0, 255).filled(0).astype(np.uint8)
    with rasterio.open(out, "w", driver="PNG", width=n, height=n, count=3, dtype="uint8") as dst:
        dst.write(img)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--png")
    args = ap.parse_args()
    if args.png:
        os.makedirs(args.png, exist_ok=True)
    failed = False
    for name, want in EXPECT.items():
        path = os.path.join(args.dir, name)
        if not os.path.exists(path):
            continue
        info = check(path, want, args.png)
        failed |= bool(info["problems"])
        print(json.dumps(info))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
