"""GDAL as the oracle for `/export/{layer}.tif` and `/export.tif?formula=`: read the export
back with rasterio and check it against the XYZ tiles it was stitched from.

    .venv/bin/python tests/oracle/export_oracle.py --export FILE --tiles DIR --bbox MINX,MINY,MAXX,MAXY [--cog] [--geojson POLYGON]

FILE is the exported GeoTIFF; DIR holds the `/tiles/{layer}/{z}/{x}/{y}.tif` (or `/algebra`) answers of every
tile under the box (named `z_x_y.tif`; a tile the service answered 204 is simply absent);
the box is in EPSG:3857 metres. Checks, each independently of tilefn's code:
  (a) CRS is EPSG:3857, pixels are square and of an XYZ zoom z, and the window is exactly the
      pixels of zoom z whose centres lie in the box (west/north edges in, east/south out);
  (b) values and validity (rasterio's `read_masks`: nodata, internal mask or alpha) equal the
      tiles' pasted at their own georeferenced offsets; a missing tile is all invalid;
  (c) with --cog, `rio_cogeo.cogeo.cog_validate` passes with no errors;
  (d) with --geojson (the POSTed polygon, EPSG:3857), the valid pixels are also those
      `rasterio.features.geometry_mask` puts inside it (GDAL's centre rule).

Prints one JSON line; exits non-zero only on crashes (thresholds belong to the Rust test).
"""

import argparse
import glob
import json
import math
import os

import numpy as np
import rasterio

ORIGIN = 20037508.342789244  # half the EPSG:3857 world width


def expected_window(bbox, z):
    """First column/row and size of the pixels of zoom z whose centres lie in bbox."""
    n = 256 * 2**z
    res = 2 * ORIGIN / n

    def first(t):
        v = t - 0.5
        if abs(v - round(v)) < 1e-6:
            v = round(v)
        return min(max(math.ceil(v), 0), n)

    minx, miny, maxx, maxy = bbox
    c0, c1 = first((minx + ORIGIN) / res), first((maxx + ORIGIN) / res)
    r0, r1 = first((ORIGIN - maxy) / res), first((ORIGIN - miny) / res)
    return c0, r0, c1 - c0, r1 - r0


def json_number(v):
    """A number JSON can hold: NaN and infinities (a formula export's NaN nodata) as text."""
    return v if v is None or math.isfinite(v) else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", required=True)
    ap.add_argument("--tiles", required=True)
    ap.add_argument("--bbox", required=True)
    ap.add_argument("--cog", action="store_true")
    ap.add_argument("--geojson")
    args = ap.parse_args()
    bbox = [float(v) for v in args.bbox.split(",")]
    out = {"export": os.path.basename(args.export), "problems": []}
    problems = out["problems"]

    with rasterio.open(args.export) as ds:
        t = ds.transform
        res = t.a
        z = round(math.log2(2 * ORIGIN / (256 * res)))
        out.update(zoom=z, width=ds.width, height=ds.height, count=ds.count,
                   dtype=ds.dtypes[0], nodata=json_number(ds.nodata),
                   mask_flags=[str(f) for f in ds.mask_flag_enums[0]])
        if ds.crs is None or ds.crs.to_epsg() != 3857:
            problems.append(f"crs {ds.crs}")
        if abs(res - 2 * ORIGIN / (256 * 2**z)) > 1e-9 * res or t.e != -t.a or t.b or t.d:
            problems.append(f"transform {tuple(t)[:6]} is not zoom {z}'s pixel grid")
        c0, r0, w, h = expected_window(bbox, z)
        ox, oy = -ORIGIN + c0 * res, ORIGIN - r0 * res
        if (ds.width, ds.height) != (w, h):
            problems.append(f"size {ds.width}x{ds.height}, expected {w}x{h}")
        if abs(t.c - ox) > 1e-6 * res or abs(t.f - oy) > 1e-6 * res:
            problems.append(f"origin {(t.c, t.f)}, expected {(ox, oy)}")
        data = ds.read()
        valid = ds.read_masks(1) > 0

    want = np.zeros_like(data)
    want_valid = np.zeros(valid.shape, dtype=bool)
    tiles = sorted(glob.glob(os.path.join(args.tiles, "*.tif")))
    for path in tiles:
        with rasterio.open(path) as tile:
            tt = tile.transform
            col = round((tt.c - t.c) / res)
            row = round((t.f - tt.f) / res)
            tdata = tile.read(list(range(1, data.shape[0] + 1)))
            tvalid = tile.read_masks(1) > 0
        # The overlap of the 256x256 tile at (col, row) with the export.
        x0, y0 = max(col, 0), max(row, 0)
        x1, y1 = min(col + 256, valid.shape[1]), min(row + 256, valid.shape[0])
        if x0 >= x1 or y0 >= y1:
            continue
        want[:, y0:y1, x0:x1] = tdata[:, y0 - row:y1 - row, x0 - col:x1 - col]
        want_valid[y0:y1, x0:x1] = tvalid[y0 - row:y1 - row, x0 - col:x1 - col]

    if args.geojson:
        from rasterio.features import geometry_mask

        with open(args.geojson) as f:
            geom = json.load(f)
        inside = geometry_mask([geom], out_shape=valid.shape, transform=t, invert=True)
        out["inside"] = int(inside.sum())
        want_valid &= inside
    both = valid & want_valid
    out.update(
        tiles=len(tiles),
        pixels=int(valid.size),
        valid=int(valid.sum()),
        mask_mismatches=int((valid != want_valid).sum()),
        value_mismatches=int((data[:, both] != want[:, both]).sum()),
    )
    if args.cog:
        from rio_cogeo.cogeo import cog_validate

        ok, errors, warnings = cog_validate(args.export, quiet=True)
        out.update(cog_valid=bool(ok), cog_errors=errors, cog_warnings=warnings)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
