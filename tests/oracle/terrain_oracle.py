"""GDAL's gdaldem as the oracle for tilefn's terrain functions on tiles.

    .venv/bin/python tests/oracle/terrain_oracle.py --dir DIR --zoom Z [--gdaldem /usr/bin/gdaldem]

DIR holds `dem/z_x_y.tif` (the layer's `/tiles` GeoTIFFs at zoom Z: raw elevations, every
tile of the layer) and one folder per case, `CASE/z_x_y.tif`, of `/algebra` float32 tiles,
where CASE is `slope`, `aspect`, `hillshade`, `slope-zevenbergen`, `hillshade-z3`
(`pixel_size=mercator`, as gdaldem measures an EPSG:3857 grid) or `slope-ground` (the default,
ground pixel sizes). Independently of tilefn's code, the script:
  1. stitches the elevation tiles into the max-zoom mosaic (a missing tile is nodata), pads
     it with one nodata cell on every side (so gdaldem treats its frame as nodata, as the
     tiles treat the world beyond the layer) and writes it as a GeoTIFF with nodata;
  2. runs `gdaldem slope|aspect|hillshade -compute_edges` on it (with `-alg
     ZevenbergenThorne`, `-z 3` for those cases);
  3. for `slope-ground`, runs gdaldem once per sampled row on that row's 3-row strip with
     `-s` = cos(latitude of the row's centre), GDAL's own way to give a horizontal unit:
     the reference for the latitude-corrected default;
  4. stitches each case's tiles and compares them with gdaldem's result over the cells
     valid in either.
Prints one JSON line per case: cells compared, validity mismatches, max |difference|, and for
hillshade the share of equal bytes. Exits non-zero only on crashes (thresholds belong to the
Rust test).
"""

import argparse
import glob
import json
import math
import os
import subprocess
import tempfile

import numpy as np
import rasterio
from rasterio.transform import from_origin

ORIGIN = 20037508.342789244  # half the EPSG:3857 world width
RADIUS = 6378137.0
NODATA = -99999.0
# Below this slope (degrees) an aspect is the direction of a vanishing gradient.
FLAT_SLOPE = 0.01


def read_tiles(folder):
    tiles = {}
    for path in glob.glob(os.path.join(folder, "*.tif")):
        z, x, y = (int(v) for v in os.path.basename(path)[:-4].split("_"))
        with rasterio.open(path) as src:
            data = src.read(1).astype(np.float64)
            valid = src.read_masks(1) > 0
        tiles[(x, y)] = np.where(valid & ~np.isnan(data), data, np.nan)
    return tiles


def stitch(tiles, xs, ys):
    out = np.full((len(ys) * 256, len(xs) * 256), np.nan)
    for (x, y), data in tiles.items():
        if x in xs and y in ys:
            r, c = ys.index(y) * 256, xs.index(x) * 256
            out[r : r + 256, c : c + 256] = data
    return out


def write(path, data, transform):
    profile = dict(
        driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
        dtype="float32", crs="EPSG:3857", transform=transform, nodata=NODATA,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.where(np.isnan(data), NODATA, data).astype(np.float32), 1)


def gdaldem(binary, mode, src, dst, extra):
    cmd = [binary, mode, src, dst, "-compute_edges", "-of", "GTiff", "-q"] + extra
    subprocess.run(cmd, check=True)
    with rasterio.open(dst) as r:
        data = r.read(1).astype(np.float64)
        valid = r.read_masks(1) > 0
    return np.where(valid, data, np.nan)


def aspect_error_by_slope(ours, want, both):
    """The largest angular aspect difference where gdaldem's slope is at least each bound."""
    out = {}
    for bound in (0.01, 0.1, 1.0, 5.0):
        cells = both & (SLOPE >= bound)
        d = np.abs(ours[cells] - want[cells])
        d = np.minimum(d, 360.0 - d)
        out[str(bound)] = float(d.max()) if d.size else 0.0
    return out


def compare(ours, want, byte_values, flat=None):
    """Differences over the cells valid in both. `flat` (aspect): where the slope is under
    FLAT_SLOPE degrees, the direction of a vanishing gradient, which GDAL's float32
    arithmetic and our f64 resolve differently (even valid against flat): reported apart."""
    ours_valid, want_valid = ~np.isnan(ours), ~np.isnan(want)
    steep = np.ones(ours.shape, bool) if flat is None else ~flat
    both = ours_valid & want_valid & steep
    diff = np.abs(ours[both] - want[both])
    if flat is not None:
        diff = np.minimum(diff, 360.0 - diff)  # angles: 359.99 and 0.01 are 0.02 apart
    report = {
        "compared": int(both.sum()),
        "validity_mismatches": int(((ours_valid != want_valid) & steep).sum()),
        "max_diff": float(diff.max()) if diff.size else 0.0,
    }
    if flat is not None:
        report["flat_cells"] = int(flat.sum())
        report["max_diff_by_slope"] = aspect_error_by_slope(ours, want, ours_valid & want_valid)
        report["flat_validity_mismatches"] = int(((ours_valid != want_valid) & flat).sum())
    if byte_values:
        report["equal_share"] = float((diff == 0).mean()) if diff.size else 1.0
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--zoom", type=int, required=True)
    ap.add_argument("--gdaldem", default="gdaldem")
    ap.add_argument("--row-step", type=int, default=7)
    args = ap.parse_args()
    z = args.zoom
    dem = read_tiles(os.path.join(args.dir, "dem"))
    xs = list(range(min(x for x, _ in dem), max(x for x, _ in dem) + 1))
    ys = list(range(min(y for _, y in dem), max(y for _, y in dem) + 1))
    mosaic = stitch(dem, xs, ys)
    padded = np.pad(mosaic, 1, constant_values=np.nan)
    res = 2 * ORIGIN / (256 * 2**z)
    west, north = -ORIGIN + xs[0] * 256 * res, ORIGIN - ys[0] * 256 * res
    transform = from_origin(west - res, north + res, res, res)
    work = tempfile.mkdtemp()
    src = os.path.join(work, "mosaic.tif")
    write(src, padded, transform)
    cases = {
        "slope": ("slope", []),
        "aspect": ("aspect", []),
        "hillshade": ("hillshade", []),
        "slope-zevenbergen": ("slope", ["-alg", "ZevenbergenThorne"]),
        "hillshade-z3": ("hillshade", ["-z", "3"]),
    }
    gdal_slope = gdaldem(args.gdaldem, "slope", src, os.path.join(work, "flat.tif"), [])
    global SLOPE
    SLOPE = np.nan_to_num(gdal_slope[1:-1, 1:-1], nan=-1.0)
    flat = ~(SLOPE >= FLAT_SLOPE)
    for case, (mode, extra) in cases.items():
        folder = os.path.join(args.dir, case)
        if not os.path.isdir(folder):
            continue
        want = gdaldem(args.gdaldem, mode, src, os.path.join(work, case + ".tif"), extra)
        want = want[1:-1, 1:-1]
        ours = stitch(read_tiles(folder), xs, ys)
        report = compare(ours, want, mode == "hillshade", flat if mode == "aspect" else None)
        print(json.dumps({"case": case, **report}))
    folder = os.path.join(args.dir, "slope-ground")
    if os.path.isdir(folder):
        ours = stitch(read_tiles(folder), xs, ys)
        rows = range(0, mosaic.shape[0], args.row_step)
        want = np.full((len(rows), mosaic.shape[1]), np.nan)
        for i, r in enumerate(rows):
            # Global row of mosaic row r; the latitude of its centre.
            y = ORIGIN - (ys[0] * 256 + r + 0.5) * res
            cos_lat = 1.0 / math.cosh(y / RADIUS)
            strip = padded[r : r + 3]  # padded rows r..r+2 = mosaic rows r-1..r+1
            strip_path = os.path.join(work, "strip.tif")
            write(strip_path, strip, from_origin(west - res, north + res - r * res, res, res))
            out = gdaldem(args.gdaldem, "slope", strip_path, os.path.join(work, "strip-slope.tif"),
                          ["-s", repr(cos_lat)])
            want[i] = out[1, 1:-1]
        report = compare(ours[list(rows)], want, False)
        print(json.dumps({"case": "slope-ground", "rows": len(rows), **report}))


if __name__ == "__main__":
    main()
