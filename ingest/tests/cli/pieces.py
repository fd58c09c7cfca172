"""Helpers of ingest/tests/cli/pieces.rs and merge.rs (run with the venv's python).

  split SRC OUT --grid N --overlap PX [--alt I=CRS]... [--warp I=CRS]
      Cuts SRC into an N x N grid of windows, each grown by PX pixels on every side (clipped
      to the image), written as OUT/piece-RR-CC.tif with SRC's dtype, nodata and band count.
      --alt I=CRS writes piece I (row-major) with the CRS given as CRS (a proj string or WKT)
      instead of SRC's own: the same projection under another definition, so the pixels and
      transform are unchanged. --warp I=CRS reprojects piece I to CRS with nearest
      resampling at about the same resolution (rasterio's default grid). Prints one JSON
      line: each piece's path, window, CRS as read back, and the EPSG:3857 bounds of warped
      pieces.

  levels STORE LAYER OUT.npz
      Every COG of LAYER (its published version) decoded at every level with its mask,
      saved as arrays named "<z>/<x>/<y>.tif@<level>" and "...@<level>/mask".

  compare A.npz B.npz [--outside MINX,MINY,MAXX,MAXY] [--source SRC]
      Compares two `levels` dumps. With --outside, only the max-zoom level is compared, and
      pixels are split into those whose centre lies outside the box (EPSG:3857) and those
      inside; --source lists the values SRC holds so values inside can be checked to be
      source values. Prints one JSON line of counts.

  shift SRC OUT.tif
      SRC's pixels placed in UTM 31N (10 m pixels) across the equator at longitude 0.

  pixels STORE LAYER --window COL,ROW,WIDTH,HEIGHT
      The max-zoom pixels of a layer of one COG in a window: JSON with its name, dtype, nodata,
      mask flags, the 0/1 validity mask (GDAL's dataset_mask) and every band's rows.

  write OUT.tif --dtype T --nodata V|none --z Z --x X --y Y [--col0 C0 --row0 R0]
        --cols C --rows R --values "v,v,...;..." (C*R values per band, ';' between bands)
      Writes an EPSG:3857 GeoTIFF on the XYZ pixel grid of zoom Z whose top-left pixel is
      pixel (C0, R0) of tile (Z, X, Y): nearest sampling onto that grid reads every pixel
      exactly.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds
from rasterio.windows import Window

HALF = 20037508.342789244


def parse_assign(items):
    out = {}
    for item in items or []:
        i, _, crs = item.partition("=")
        out[int(i)] = crs
    return out


def split(args):
    alt = parse_assign(args.alt)
    warp = parse_assign(args.warp)
    os.makedirs(args.out, exist_ok=True)
    pieces = []
    with rasterio.open(args.src) as src:
        w, h, n, px = src.width, src.height, args.grid, args.overlap
        cols = [round(i * w / n) for i in range(n + 1)]
        rows = [round(i * h / n) for i in range(n + 1)]
        for r in range(n):
            for c in range(n):
                i = r * n + c
                x0, x1 = max(cols[c] - px, 0), min(cols[c + 1] + px, w)
                y0, y1 = max(rows[r] - px, 0), min(rows[r + 1] + px, h)
                win = Window(x0, y0, x1 - x0, y1 - y0)
                data = src.read(window=win)
                profile = {
                    "driver": "GTiff",
                    "width": win.width,
                    "height": win.height,
                    "count": src.count,
                    "dtype": src.dtypes[0],
                    "nodata": src.nodata,
                    "crs": src.crs,
                    "transform": src.window_transform(win),
                    "compress": "deflate",
                }
                path = os.path.join(args.out, f"piece-{r:02d}-{c:02d}.tif")
                info = {"path": path, "window": [x0, y0, x1 - x0, y1 - y0]}
                if i in alt:
                    profile["crs"] = CRS.from_user_input(alt[i])
                if i in warp:
                    dst_crs = CRS.from_user_input(warp[i])
                    left, bottom, right, top = rasterio.windows.bounds(win, src.transform)
                    t, ww, hh = calculate_default_transform(
                        src.crs, dst_crs, win.width, win.height, left, bottom, right, top
                    )
                    fill = src.nodata if src.nodata is not None else 0
                    out = np.full((src.count, hh, ww), fill, dtype=src.dtypes[0])
                    reproject(
                        data,
                        out,
                        src_transform=profile["transform"],
                        src_crs=src.crs,
                        src_nodata=src.nodata,
                        dst_transform=t,
                        dst_crs=dst_crs,
                        dst_nodata=src.nodata,
                        resampling=Resampling.nearest,
                    )
                    profile.update(crs=dst_crs, transform=t, width=ww, height=hh)
                    data = out
                    b = rasterio.transform.array_bounds(hh, ww, t)
                    info["bounds_3857"] = list(
                        transform_bounds(dst_crs, "EPSG:3857", *b, densify_pts=101)
                    )
                with rasterio.open(path, "w", **profile) as dst:
                    dst.write(data)
                with rasterio.open(path) as back:
                    info["crs"] = back.crs.to_string()
                    info["epsg"] = back.crs.to_epsg()
                pieces.append(info)
    print(json.dumps({"pieces": pieces}))


def layer_cogs(store, layer):
    with open(os.path.join(store, "layers", layer, "manifest.json")) as f:
        m = json.load(f)
    for o in m["objects"]:
        key = o["key"]
        yield key.split("/cog/", 1)[1], os.path.join(store, key), m["bounds"]["mercator"]


def footprint_window(d, box):
    """The window of `d` covering `box` (EPSG:3857), grown to whole pixels and clipped: a
    COG's full level 0 can be 32768² pixels, nearly all of them sparse."""
    inv = ~d.transform
    x0, y0 = inv * (box[0], box[3])
    x1, y1 = inv * (box[2], box[1])
    c0, r0 = max(math.floor(x0), 0), max(math.floor(y0), 0)
    c1, r1 = min(math.ceil(x1), d.width), min(math.ceil(y1), d.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def levels(args):
    arrays = {}
    for name, path, box in layer_cogs(args.store, args.layer):
        with rasterio.open(path) as d:
            n_levels = 1 + len(d.overviews(1))
        for level in range(n_levels):
            opts = {} if level == 0 else {"overview_level": level - 1}
            with rasterio.open(path, **opts) as d:
                win = footprint_window(d, box)
                if win is None:
                    continue
                arrays[f"{name}@{level}"] = d.read(window=win)
                arrays[f"{name}@{level}/mask"] = d.dataset_mask(window=win)
                arrays[f"{name}@{level}/transform"] = np.array(d.window_transform(win)[:6])
    np.savez(args.out, **arrays)
    print(json.dumps({"arrays": len(arrays)}))


def compare(args):
    a, b = np.load(args.a), np.load(args.b)
    report = {"only_a": sorted(set(a.files) - set(b.files)), "only_b": sorted(set(b.files) - set(a.files))}
    box = [float(v) for v in args.outside.split(",")] if args.outside else None
    allowed = None
    if args.source:
        with rasterio.open(args.source) as s:
            allowed = [np.unique(s.read(i + 1)) for i in range(s.count)]
    c = dict(arrays=0, differing_arrays=0, outside_px=0, outside_diff=0, outside_mask_diff=0,
             inside_px=0, inside_both_valid=0, inside_diff=0, inside_mask_diff=0, not_source_values=0)
    for name in sorted(set(a.files) & set(b.files)):
        if name.endswith("/mask") or name.endswith("/transform"):
            continue
        if box is not None and not name.endswith("@0"):
            continue
        va, vb = a[name], b[name]
        ma, mb = a[name + "/mask"] > 0, b[name + "/mask"] > 0
        c["arrays"] += 1
        same = lambda x, y: (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        if not (np.all(same(va, vb)) and np.array_equal(ma, mb)):
            c["differing_arrays"] += 1
        if box is None:
            continue
        t = a[name + "/transform"]
        h, w = ma.shape
        xs = t[2] + (np.arange(w) + 0.5) * t[0]
        ys = t[5] + (np.arange(h) + 0.5) * t[4]
        inside = ((xs >= box[0]) & (xs <= box[2]))[None, :] & ((ys >= box[1]) & (ys <= box[3]))[:, None]
        eq = np.all(same(va, vb), axis=0)
        out = ~inside
        c["outside_px"] += int(out.sum())
        c["outside_diff"] += int((out & (ma | mb) & ~eq).sum())
        c["outside_mask_diff"] += int((out & (ma != mb)).sum())
        c["inside_px"] += int((inside & ma).sum())
        both = inside & ma & mb
        c["inside_both_valid"] += int(both.sum())
        c["inside_diff"] += int((both & ~eq).sum())
        c["inside_mask_diff"] += int((inside & (ma != mb)).sum())
        if allowed is not None:
            for band, values in enumerate(allowed):
                v = vb[band][inside & mb]
                c["not_source_values"] += int((~np.isin(v, values)).sum())
    report.update(c)
    print(json.dumps(report))


def pixels(args):
    """The max-zoom pixels of a one-COG layer in a window, with the mask."""
    ((name, path, box),) = list(layer_cogs(args.store, args.layer))
    with rasterio.open(path) as d:
        win = Window(*[int(v) for v in args.window.split(",")])
        data = d.read(window=win)
        print(json.dumps({
            "cog": name,
            "dtype": d.dtypes[0],
            "nodata": None if d.nodata is None else (str(d.nodata) if math.isnan(d.nodata) else d.nodata),
            "mask_flags": [[f.name for f in fl] for fl in d.mask_flag_enums],
            "mask": (d.dataset_mask(window=win) > 0).astype(int).tolist(),
            "bands": [[[None if math.isnan(v) else v for v in row] for row in band.astype(float).tolist()] for band in data],
        }))


def shift(args):
    """SRC's pixels, dtype and nodata placed in UTM 31N with 10 m pixels across the equator
    at longitude 0 (x 166021.44 m): a small layer whose footprint fits only z0."""
    with rasterio.open(args.src) as src:
        data, p = src.read(), src.profile
    p = {k: p[k] for k in ["width", "height", "count", "dtype", "nodata"]}
    p.update(driver="GTiff", crs="EPSG:32631", compress="deflate",
             transform=rasterio.transform.from_origin(166021.44 - 1200, 1000, 10, 10))
    with rasterio.open(args.out, "w", **p) as d:
        d.write(data)


def write(args):
    res = 2 * HALF / (256 * 2**args.z)
    left = -HALF + (args.x * 256 + args.col0) * res
    top = HALF - (args.y * 256 + args.row0) * res
    bands = [np.array([float(v) for v in b.split(",")]) for b in args.values.split(";")]
    data = np.stack([b.reshape(args.rows, args.cols) for b in bands]).astype(args.dtype)
    nodata = None if args.nodata == "none" else float(args.nodata)
    with rasterio.open(
        args.out, "w", driver="GTiff", width=args.cols, height=args.rows, count=len(bands),
        dtype=args.dtype, nodata=nodata, crs="EPSG:3857",
        transform=rasterio.transform.from_origin(left, top, res, res),
    ) as d:
        d.write(data)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("src")
    s.add_argument("out")
    s.add_argument("--grid", type=int, default=4)
    s.add_argument("--overlap", type=int, default=3)
    s.add_argument("--alt", action="append")
    s.add_argument("--warp", action="append")
    s.set_defaults(fn=split)
    s = sub.add_parser("levels")
    s.add_argument("store")
    s.add_argument("layer")
    s.add_argument("out")
    s.set_defaults(fn=levels)
    s = sub.add_parser("compare")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--outside")
    s.add_argument("--source")
    s.set_defaults(fn=compare)
    s = sub.add_parser("shift")
    s.add_argument("src")
    s.add_argument("out")
    s.set_defaults(fn=shift)
    s = sub.add_parser("pixels")
    s.add_argument("store")
    s.add_argument("layer")
    s.add_argument("--window", required=True)
    s.set_defaults(fn=pixels)
    s = sub.add_parser("write")
    s.add_argument("out")
    s.add_argument("--dtype", required=True)
    s.add_argument("--nodata", default="none")
    for k in ["z", "x", "y", "cols", "rows"]:
        s.add_argument(f"--{k}", type=int, required=True)
    s.add_argument("--col0", type=int, default=0)
    s.add_argument("--row0", type=int, default=0)
    s.add_argument("--values", required=True)
    s.set_defaults(fn=write)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
