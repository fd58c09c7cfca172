"""Whole-layer statistics of a published layer, recomputed with numpy from its COGs (the
oracle of ingest/tests/cli/quantiles.rs; run with the venv's python).

  wholelayer.py STORE LAYER [--classes]

Reads the full-resolution level of every COG of the finest group (the layer's max zoom) over the layer's footprint
with rasterio, keeps each band's valid pixels (dataset mask set, not nodata, not NaN) and
prints one JSON line: per band the count, numpy.percentile at 0, 0.5, ..., 100 over the
values as float64, and with --classes the count and ground area of each distinct value
(keys printed as Rust prints an f64), each pixel weighing (res * cos(lat))^2 with lat the
latitude of its row's centre.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import rasterio

from pieces import HALF, footprint_window, layer_cogs

EARTH_RADIUS = 6378137.0


def rust_key(v):
    """An f64 as Rust's Display prints it: integers without '.0', others shortest round-trip."""
    if v == math.floor(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(float(v))


def band_pixels(store, layer):
    """Per band, the valid values and their rows' ground areas (per pixel)."""
    values, areas = None, None
    with open(os.path.join(store, "layers", layer, "manifest.json")) as f:
        max_res = 2 * HALF / (256 * 2 ** json.load(f)["max_zoom"])
    for _name, path, box in layer_cogs(store, layer):
        with rasterio.open(path) as d:
            # Only COGs of the finest group hold the max zoom at full resolution.
            if abs(d.transform.a - max_res) > max_res * 1e-9:
                continue
            win = footprint_window(d, box)
            if win is None:
                continue
            data = d.read(window=win).astype(np.float64)
            mask = d.dataset_mask(window=win) > 0
            t = d.window_transform(win)
            res = t.a
            rows = np.arange(data.shape[1])
            y = t.f + (rows + 0.5) * t.e
            lat = np.arctan(np.sinh(y / EARTH_RADIUS))
            row_area = (res * np.cos(lat)) ** 2
            area = np.broadcast_to(row_area[:, None], mask.shape)
            if values is None:
                values, areas = [[] for _ in range(d.count)], [[] for _ in range(d.count)]
            for b in range(d.count):
                band = data[b]
                ok = mask & ~np.isnan(band)
                if d.nodata is not None and not math.isnan(d.nodata):
                    ok &= band != d.nodata
                values[b].append(band[ok])
                areas[b].append(area[ok])
    if values is None:
        return []
    return [(np.concatenate(v), np.concatenate(a)) for v, a in zip(values, areas)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("layer")
    p.add_argument("--classes", action="store_true")
    args = p.parse_args()
    grid = [i * 0.5 for i in range(201)]
    out = []
    for vals, area in band_pixels(args.store, args.layer):
        band = {"count": int(vals.size), "percentiles": np.percentile(vals, grid).tolist()}
        if args.classes:
            uniq, inverse, counts = np.unique(vals, return_inverse=True, return_counts=True)
            sums = np.bincount(inverse, weights=area)
            band["value_counts"] = {rust_key(v): int(c) for v, c in zip(uniq, counts)}
            band["area_m2"] = {rust_key(v): float(s) for v, s in zip(uniq, sums)}
        out.append(band)
    print(json.dumps({"bands": out}))


if __name__ == "__main__":
    sys.exit(main())
