"""rasterio oracle for `/statistics`: the figures of the pixels inside polygons, computed
from a layer's COGs with GDAL's own rasterizer, independently of tilefn's code.

    .venv/bin/python tests/oracle/stats_oracle.py --store DIR CASES.json

CASES.json is a list of cases; each is
    {"name": str, "zoom": int, "geometry": GeoJSON in EPSG:3857 (Geometry, Feature or
     FeatureCollection), "bind": {"a": [layer_id, band]}, "formula": "a*2" (optional),
     "percentiles": [2, 50, 98], "bins": 10}
Without "formula" the case summarises every band of the one bound layer.

For each case and feature:
  * the pixel grid is the XYZ grid of `zoom` (pixel size 2·20037508.342789244/(256·2^zoom),
    origin at the north-west corner of the world), cut to a window around the feature;
  * a pixel counts when `rasterio.features.geometry_mask(..., all_touched=False,
    invert=True)` marks it on that window (GDAL's centre rule), and its value is valid:
    GDAL's mask of the band (nodata, the internal mask) is set and the value is not NaN;
  * the values come from the layer's COGs read with rasterio: the group holding `zoom`,
    at overview level `group.max_zoom - zoom` (level 0, the full resolution, at the group's
    max zoom), each COG placed at its anchor tile's pixel offset;
  * figures are numpy's over the valid values as float64: count, min, max, mean, std
    (ddof 0), sum, `numpy.percentile` (linear), `numpy.histogram(bins)` of the values as
    float32 (what tilefn keeps for them), value counts (`numpy.unique`) and each class's
    ground area, a pixel of row r covering (res·cos φ)² m² with φ the latitude of the row's
    centre.

Prints one JSON line: a list with, per case, {"name", "zoom", "features": [{"pixels",
"bands": [...]}]}. Value counts are [[value, count, area_m2], ...] (the values as numbers).
"""

import argparse
import json
import math
import os
import re

import numpy as np
import rasterio
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from rasterio.windows import Window

ORIGIN = 20037508.342789244  # half the EPSG:3857 world width
EARTH_RADIUS = 6378137.0
KEY_RE = re.compile(r"cog/(\d+)/(\d+)/(\d+)\.tif$")


def resolution(z):
    return 2 * ORIGIN / (256 * 2**z)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("cases")
    args = ap.parse_args()
    with open(args.cases) as f:
        cases = json.load(f)
    manifests = {}
    out = []
    with rasterio.Env(GDAL_CACHEMAX=256):
        for case in cases:
            for layer, _ in case["bind"].values():
                if layer not in manifests:
                    path = os.path.join(args.store, "layers", layer, "manifest.json")
                    with open(path) as f:
                        manifests[layer] = json.load(f)
            out.append(run_case(args.store, manifests, case))
    print(json.dumps(out, allow_nan=False))


def features_of(geometry):
    """The geometries of a GeoJSON Geometry, Feature or FeatureCollection."""
    kind = geometry["type"]
    if kind == "FeatureCollection":
        return [f["geometry"] for f in geometry["features"]]
    if kind == "Feature":
        return [geometry["geometry"]]
    return [geometry]


def pixel_window(geom, z):
    """(row0, col0, rows, cols) of the grid window holding the geometry's box, plus a pixel."""
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for p in c:
                walk(p)

    walk(geom["coordinates"])
    res = resolution(z)
    size = 256 * 2**z
    col0 = max(int(math.floor((min(xs) + ORIGIN) / res)) - 1, 0)
    col1 = min(int(math.floor((max(xs) + ORIGIN) / res)) + 2, size)
    row0 = max(int(math.floor((ORIGIN - max(ys)) / res)) - 1, 0)
    row1 = min(int(math.floor((ORIGIN - min(ys)) / res)) + 2, size)
    return row0, col0, row1 - row0, col1 - col0


def read_layer(store, manifest, z, row0, col0, rows, cols):
    """The layer's bands on the window of zoom z's grid: (values float64 [bands, rows, cols],
    valid bool [bands, rows, cols]); pixels no COG covers are invalid."""
    nbands = manifest["band_count"]
    values = np.zeros((nbands, rows, cols), dtype=np.float64)
    valid = np.zeros((nbands, rows, cols), dtype=bool)
    groups = [g for g in manifest["groups"] if g["anchor_zoom"] <= z <= g["max_zoom"]]
    if not groups:
        raise SystemExit(f"{manifest['id']}: no group holds zoom {z}")
    group = groups[0]
    level = group["max_zoom"] - z
    span = 256 * 2 ** (z - group["anchor_zoom"])  # the COG's pixels a side at zoom z
    for obj in manifest["objects"]:
        m = KEY_RE.search(obj["key"])
        if not m or int(m.group(1)) != group["anchor_zoom"]:
            continue
        ax, ay = int(m.group(2)), int(m.group(3))
        gc0, gr0 = ax * span, ay * span
        # The part of the window inside this COG, in the COG's and the window's pixels.
        c0, c1 = max(col0, gc0), min(col0 + cols, gc0 + span)
        r0, r1 = max(row0, gr0), min(row0 + rows, gr0 + span)
        if c0 >= c1 or r0 >= r1:
            continue
        opts = {"overview_level": level - 1} if level > 0 else {}
        with rasterio.open(os.path.join(store, obj["key"]), **opts) as cog:
            if (cog.width, cog.height) != (span, span):
                raise SystemExit(f"{obj['key']} level {level}: {cog.width}x{cog.height}, want {span}")
            win = Window(c0 - gc0, r0 - gr0, c1 - c0, r1 - r0)
            data = cog.read(list(range(1, nbands + 1)), window=win).astype(np.float64)
            masks = cog.read_masks(list(range(1, nbands + 1)), window=win) > 0
        sl = (slice(None), slice(r0 - row0, r1 - row0), slice(c0 - col0, c1 - col0))
        values[sl] = data
        valid[sl] = masks & ~np.isnan(data)
    return values, valid


def row_areas(z, row0, rows):
    """Ground m² of one pixel of each window row: (res·cos φ)², φ at the row's centre."""
    res = resolution(z)
    y = ORIGIN - (row0 + np.arange(rows) + 0.5) * res
    lat = 2 * np.arctan(np.exp(y / EARTH_RADIUS)) - math.pi / 2
    return (res * np.cos(lat)) ** 2


def summarise(values, areas, percentiles, bins):
    """numpy's figures of 1-d float64 `values` (areas: each value's pixel area)."""
    n = int(values.size)
    out = {"count": n}
    if n == 0:
        return out
    uniq, inverse, counts = np.unique(values + 0.0, return_inverse=True, return_counts=True)
    class_area = np.bincount(inverse, weights=areas, minlength=uniq.size)
    hist_counts, edges = np.histogram(values.astype(np.float32).astype(np.float64), bins=bins)
    out.update(
        min=float(values.min()),
        max=float(values.max()),
        mean=float(values.mean()),
        std=float(values.std()),
        sum=float(values.sum()),
        percentiles=[[float(q), float(v)] for q, v in zip(percentiles, np.percentile(values, percentiles))],
        histogram={"edges": edges.tolist(), "counts": hist_counts.tolist()},
        value_counts=[[float(v), int(c), float(a)] for v, c, a in zip(uniq, counts, class_area)],
    )
    return out


def run_case(store, manifests, case):
    z = case["zoom"]
    res = resolution(z)
    percentiles = case.get("percentiles", [2, 50, 98])
    bins = case.get("bins", 10)
    features = []
    for geom in features_of(case["geometry"]):
        row0, col0, rows, cols = pixel_window(geom, z)
        transform = from_origin(-ORIGIN + col0 * res, ORIGIN - row0 * res, res, res)
        inside = geometry_mask([geom], out_shape=(rows, cols), transform=transform, all_touched=False, invert=True)
        areas = np.broadcast_to(row_areas(z, row0, rows)[:, None], (rows, cols))
        bound = {}
        for var, (layer, band) in case["bind"].items():
            values, valid = read_layer(store, manifests[layer], z, row0, col0, rows, cols)
            bound[var] = (values, valid, band)
        if "formula" in case:
            arrays = {var: v[band] for var, (v, _, band) in bound.items()}
            ok = np.logical_and.reduce([m[band] for _, m, band in bound.values()])
            with np.errstate(all="ignore"):
                result = np.asarray(eval(case["formula"], {"__builtins__": {}, "np": np}, arrays), dtype=np.float64)
            ok = ok & np.isfinite(result)
            bands = [(result, ok)]
        else:
            ((values, valid, _),) = bound.values()
            bands = list(zip(values, valid))
        summaries = []
        for values, valid in bands:
            keep = inside & valid
            summaries.append(summarise(values[keep], areas[keep], percentiles, bins))
        features.append({"pixels": int(inside.sum()), "bands": summaries})
    return {"name": case["name"], "zoom": z, "features": features}


if __name__ == "__main__":
    main()
