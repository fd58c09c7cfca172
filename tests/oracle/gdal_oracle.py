"""GDAL oracle for a layer written by `tilefn-ingest`: is every object a valid COG, and does the
max-zoom data equal what GDAL's own warper makes of the source on the same grid?

    .venv/bin/python tests/oracle/gdal_oracle.py --store DIR --layer ID --source FILE [--bands-check]

Reads DIR/layers/ID/manifest.json (crates/catalog/src/manifest.rs), then
  (a) runs rio-cogeo's validator on every COG object;
  (b) for each COG of the finest group, reads level 0 (the max zoom) and warps the SOURCE with
      GDAL to exactly that grid (EPSG:3857, same transform and shape, nearest neighbour, the
      source's own nodata/alpha/mask), then compares validity masks and, where both are valid,
      the values;
  (c) with --bands-check, checks the manifest's dtype/bands/nodata/alpha against the COG
      headers and its per-band count/min/max against the max-zoom pixels.

Exact transformer: rasterio's `reproject` always wraps GDAL's transformer in an approximating
one (0.125 px error; `tolerance=0`/`ERROR_THRESHOLD=0` only become transformer options), and
`WarpedVRT(tolerance=0)` fails to build. So the oracle builds a WarpedVRT, takes its XML and
sets <MaxError>0</MaxError>, with which GDAL's approximating transformer calls the exact one
for every pixel: this is `gdalwarp -et 0 -r near`. (At 0.125 px, ~2% of pixels of a UTM DEM
pick a neighbouring source pixel, which would hide real off-by-one bugs.)

Prints one JSON line; exits non-zero only on crashes (thresholds belong to the Rust test).
Memory stays bounded: COG by COG, 1024x1024 window by window, over the source footprint only.
"""

import argparse
import json
import math
import os
import re
import sys

import numpy as np
import rasterio
from rasterio.vrt import WarpedVRT
from rasterio.warp import Resampling, transform_bounds
from rasterio.windows import Window

ORIGIN = 20037508.342789244  # half the EPSG:3857 world width
WINDOW = 1024
KEY_RE = re.compile(r"cog/(\d+)/(\d+)/(\d+)\.tif$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--layer", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--bands-check", action="store_true")
    args = ap.parse_args()

    with open(os.path.join(args.store, "layers", args.layer, "manifest.json")) as f:
        manifest = json.load(f)
    out = {"layer": args.layer, "source": os.path.basename(args.source)}
    cogs = [o for o in manifest["objects"] if o["key"].endswith(".tif")]
    out.update(validate_cogs(args.store, cogs))

    finest = manifest["groups"][0]
    anchor = finest["anchor_zoom"]
    finest_cogs = [o for o in cogs if (m := KEY_RE.search(o["key"])) and int(m.group(1)) == anchor]
    with rasterio.Env(GDAL_CACHEMAX=256):
        out.update(compare(args.store, manifest, finest, finest_cogs, args.source, args.bands_check))
    print(json.dumps(out, allow_nan=False, default=str))


def validate_cogs(store, cogs):
    from rio_cogeo.cogeo import cog_validate

    errors, warnings, valid = [], [], 0
    for obj in cogs:
        path = os.path.join(store, obj["key"])
        try:
            ok, errs, warns = cog_validate(path, quiet=True)
        except Exception as e:  # a file rasterio cannot even open is an invalid COG
            ok, errs, warns = False, [f"{type(e).__name__}: {e}"], []
        valid += bool(ok)
        errors += [f"{obj['key']}: {e}" for e in errs]
        warnings += [f"{obj['key']}: {w}" for w in warns]
    return {"cogs": len(cogs), "valid_cogs": valid, "cog_errors": errors, "cog_warnings": warnings[:20]}


def nodata_value(v):
    """Manifest nodata: a number, the strings "nan"/"inf"/"-inf", or null."""
    if v is None:
        return None
    return float(v) if not isinstance(v, str) else float(v.replace("+", ""))


def exact_warp(src, transform, width, height):
    """GDAL's warp of `src` onto the grid, with the exact transformer. Returns (dataset, data
    band indexes, alpha band index, transformer name)."""
    alpha_bands = [i + 1 for i, c in enumerate(src.colorinterp) if c == rasterio.enums.ColorInterp.alpha]
    data_bands = [b for b in range(1, src.count + 1) if b not in alpha_bands]
    kwargs = dict(crs="EPSG:3857", transform=transform, width=width, height=height, resampling=Resampling.nearest)
    if not alpha_bands:
        kwargs["add_alpha"] = True  # its alpha band tells which pixels the warp wrote
    with WarpedVRT(src, **kwargs) as vrt:
        xml = vrt.tags(ns="xml:VRT")["xml:VRT"]
        alpha = vrt.count if not alpha_bands else alpha_bands[0]
    exact, n = re.subn(r"<MaxError>[^<]*</MaxError>", "<MaxError>0</MaxError>", xml)
    return rasterio.open(exact if n else xml), data_bands, alpha, "exact" if n else "approx-0.125"


def tile_bounds(z, x, y):
    res = 2 * ORIGIN / (1 << z)
    return (-ORIGIN + x * res, ORIGIN - (y + 1) * res, -ORIGIN + (x + 1) * res, ORIGIN - y * res)


def compare(store, manifest, group, cogs, source, bands_check):
    res = {
        "max_zoom": manifest["max_zoom"],
        "finest_cogs": len(cogs),
        "pixels_compared": 0,
        "identical": 0,
        "identical_fraction": None,
        "band_identical_fraction": [],
        "ours_valid": 0,
        "gdal_valid": 0,
        "mask_mismatch": 0,
        "mask_mismatch_fraction": None,
        "grid_errors": [],
        "notes": [],
    }
    nbands = manifest["band_count"]
    alpha = manifest["alpha"]
    mask = manifest.get("mask", False)
    nodata = nodata_value(manifest.get("nodata"))
    band_nodata = [nodata_value(b.get("nodata", manifest.get("nodata"))) for b in manifest["bands"]]
    band_nodata += [nodata] * (nbands - len(band_nodata))
    band_identical = np.zeros(nbands, dtype=np.int64)
    stats = [{"count": 0, "min": math.inf, "max": -math.inf} for _ in range(nbands)]
    bands_errors = []
    union = 0

    with rasterio.open(source) as src:
        for obj in cogs:
            z, x, y = (int(v) for v in KEY_RE.search(obj["key"]).groups())
            with rasterio.open(os.path.join(store, obj["key"])) as cog:
                check_grid(cog, obj["key"], tile_bounds(z, x, y), 256 << (group["max_zoom"] - z), res["grid_errors"])
                if bands_check:
                    check_header(cog, obj["key"], manifest, bands_errors)
                if cog.count < nbands + alpha:
                    res["notes"].append(f"{obj['key']}: {cog.count} samples, manifest says {nbands}+alpha={alpha}")
                    continue
                gdal, data_bands, gdal_alpha, transformer = exact_warp(src, cog.transform, cog.width, cog.height)
                res["transformer"] = transformer
                if len(data_bands) != nbands:
                    res["notes"].append(f"source has {len(data_bands)} data bands, layer {nbands}: values not compared")
                with gdal:
                    for win in windows(cog, src):
                        ours = cog.read(list(range(1, nbands + 1)), window=win)
                        if alpha:
                            ours_valid = cog.read(nbands + 1, window=win) > 0
                        elif mask:
                            # GDAL's internal mask (our ingest's validity without nodata).
                            ours_valid = cog.read_masks(1, window=win) > 0
                        elif nodata is None:
                            ours_valid = np.ones(ours.shape[1:], dtype=bool)
                        else:
                            ours_valid = ~np.all(same(ours, nodata), axis=0)
                        gdal_valid = gdal.read(gdal_alpha, window=win) > 0
                        both = ours_valid & gdal_valid
                        res["ours_valid"] += int(ours_valid.sum())
                        res["gdal_valid"] += int(gdal_valid.sum())
                        res["mask_mismatch"] += int((ours_valid != gdal_valid).sum())
                        union += int((ours_valid | gdal_valid).sum())
                        if bands_check:
                            for b in range(nbands):
                                # Stats are per band: a band's own nodata value is not a
                                # sample even where another band makes the pixel valid.
                                v = ours[b][ours_valid]
                                if not alpha and not mask and band_nodata[b] is not None:
                                    v = v[~same(v, band_nodata[b])]
                                v = v[~np.isnan(v)] if v.dtype.kind == "f" else v
                                if v.size:
                                    s = stats[b]
                                    s["count"] += int(v.size)
                                    s["min"] = min(s["min"], float(v.min()))
                                    s["max"] = max(s["max"], float(v.max()))
                        if len(data_bands) != nbands or not both.any():
                            continue
                        theirs = gdal.read(data_bands, window=win)
                        eq = same(ours, theirs)
                        res["pixels_compared"] += int(both.sum())
                        res["identical"] += int((np.all(eq, axis=0) & both).sum())
                        band_identical += (eq & both).reshape(nbands, -1).sum(axis=1)

    n = res["pixels_compared"]
    if n:
        res["identical_fraction"] = res["identical"] / n
        res["band_identical_fraction"] = [float(b) / n for b in band_identical]
    res["mask_mismatch_fraction"] = res["mask_mismatch"] / union if union else 0.0
    if bands_check:
        check_stats(manifest, stats, bands_errors)
        res["bands_errors"] = bands_errors
    return res


def same(a, b):
    """Elementwise equality where NaN equals NaN (NaN is the commonest float nodata)."""
    eq = a == b
    if np.asarray(a).dtype.kind == "f":
        eq |= np.isnan(a) & np.isnan(b)
    return eq


def windows(cog, src):
    """1024² windows of the COG that the source can reach, so a COG whose level 0 is 32768²
    but holds a small raster is not read in full. Each window's bounds are taken into the
    source CRS (small and on one side of the antimeridian, unlike the whole footprint) and
    kept if they meet the source's bounds; a window that cannot be transformed is kept."""
    sb = src.bounds
    margin_x, margin_y = 2 * abs(src.res[0]), 2 * abs(src.res[1])
    for r in range(0, cog.height, WINDOW):
        for c in range(0, cog.width, WINDOW):
            win = Window(c, r, min(WINDOW, cog.width - c), min(WINDOW, cog.height - r))
            try:
                b = transform_bounds("EPSG:3857", src.crs, *rasterio.windows.bounds(win, cog.transform), densify_pts=21)
            except Exception:
                yield win
                continue
            if not all(math.isfinite(v) for v in b):
                yield win
            elif b[0] <= sb.right + margin_x and b[2] >= sb.left - margin_x and b[1] <= sb.top + margin_y and b[3] >= sb.bottom - margin_y:
                yield win


def check_grid(cog, key, bounds, size, errors):
    crs = cog.crs.to_epsg() if cog.crs else None
    if crs != 3857:
        errors.append(f"{key}: CRS {cog.crs} is not EPSG:3857")
    if (cog.width, cog.height) != (size, size):
        errors.append(f"{key}: level 0 is {cog.width}x{cog.height}, expected {size}x{size}")
    tol = (bounds[2] - bounds[0]) * 1e-9
    if any(abs(a - b) > tol for a, b in zip(cog.bounds, bounds)):
        errors.append(f"{key}: bounds {tuple(cog.bounds)} != tile bounds {bounds}")


def check_header(cog, key, manifest, errors):
    want = manifest["dtype"]
    if cog.dtypes[0] != want:
        errors.append(f"{key}: dtype {cog.dtypes[0]} != manifest {want}")
    if cog.count != manifest["band_count"] + (1 if manifest["alpha"] else 0):
        errors.append(f"{key}: {cog.count} samples for {manifest['band_count']} bands + alpha={manifest['alpha']}")
    nodata = nodata_value(manifest.get("nodata"))
    if not manifest["alpha"] and not (
        cog.nodata == nodata or (nodata is not None and cog.nodata is not None and math.isnan(nodata) and math.isnan(cog.nodata))
    ):
        errors.append(f"{key}: GDAL_NODATA {cog.nodata} != manifest {nodata}")
    if manifest["alpha"] and cog.colorinterp[-1] != rasterio.enums.ColorInterp.alpha:
        errors.append(f"{key}: last sample is {cog.colorinterp[-1].name}, not alpha")
    if manifest.get("mask") and rasterio.enums.MaskFlags.per_dataset not in cog.mask_flag_enums[0]:
        errors.append(f"{key}: GDAL sees no internal mask (flags {cog.mask_flag_enums[0]})")


def check_stats(manifest, stats, errors):
    for b, s in enumerate(stats):
        info = manifest["bands"][b] if b < len(manifest["bands"]) else {}
        m = info.get("stats")
        if m is None:
            if s["count"]:
                errors.append(f"band {b}: manifest has no stats but {s['count']} valid pixels")
            continue
        if m["count"] != s["count"]:
            errors.append(f"band {b}: manifest count {m['count']} != {s['count']} valid max-zoom pixels")
        for k in ("min", "max"):
            if s["count"] and not math.isclose(m[k], s[k], rel_tol=1e-6, abs_tol=1e-9):
                errors.append(f"band {b}: manifest {k} {m[k]} != {s[k]}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        # A crash is the only non-zero exit; say what crashed on one line for the test log.
        print(f"gdal_oracle crashed: {type(e).__name__}: {e}", file=sys.stderr)
        raise
