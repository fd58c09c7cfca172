"""scipy oracle for the focal (neighbourhood) statistics of `tilefn-algebra`, computed
independently of tilefn's code: each footprint is built here from GeoTrellis's
`Neighborhood` membership rules, and each statistic is `scipy.ndimage.generic_filter` with a
NaN-ignoring numpy function.

    .venv/bin/python tests/oracle/focal_oracle.py DIR

DIR holds
  * values.npy: float64 (height, width), the raster as stored (nodata cells hold any value,
    some valid cells may be NaN);
  * valid.npy: bool (height, width), the validity mask;
  * cases.json: {"cases": [{"stat": "mean", "shape": {...}}, ...]}, a shape being
    {"kind": "square", "r": 1} | {"kind": "circle", "r": 2.5} |
    {"kind": "annulus", "inner": 1, "outer": 2} | {"kind": "nesw", "r": 1} |
    {"kind": "wedge", "r": 2, "start": 0, "end": 90}.
It writes DIR/out.npy, float64 (len(cases), height, width), NaN where the result is invalid.

Footprints (offset dx east, dy south of the focus; distance sqrt(dx² + dy²)):
  * Square(extent): |dx| <= extent and |dy| <= extent;
  * Circle(radius): distance <= radius;
  * Annulus(inner, outer): inner <= distance <= outer;
  * Nesw(extent): dx == 0 or dy == 0, within extent;
  * Wedge(radius, start, end): distance <= radius and the angle, in degrees counter-clockwise
    from east with north up, lies in [start, end], or in [start, 360) ∪ [0, end] when
    start > end; the focus is always in.
The footprint array spans ceil(radius) cells each way, so scipy centres it on the focus.

Statistics over the valid, non-NaN cells of the footprint that lie on the grid (cells off
the grid are `cval=NaN` with `mode='constant'`); NaN (invalid) when there is none:
mean, min, max, sum, median (numpy's: the mean of the two middle values of an even count),
mode (the most frequent value, the smallest of equally frequent ones), std (ddof 0).
"""

import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage


def reach(shape):
    kind = shape["kind"]
    if kind in ("square", "nesw"):
        return int(shape["r"])
    radius = shape["outer"] if kind == "annulus" else shape["r"]
    return int(math.ceil(radius))


def member(shape, dx, dy):
    """GeoTrellis's membership rule for the cell at (dx east, dy south) of the focus."""
    kind = shape["kind"]
    distance = math.hypot(dx, dy)
    if kind == "square":
        return True
    if kind == "circle":
        return distance <= shape["r"]
    if kind == "annulus":
        return shape["inner"] <= distance <= shape["outer"]
    if kind == "nesw":
        return dx == 0 or dy == 0
    if kind == "wedge":
        if dx == 0 and dy == 0:
            return True
        # North up: a row further down (dy > 0) is further south, so the y axis is -dy.
        angle = math.degrees(math.atan2(-dy, dx)) % 360.0
        start, end = shape["start"], shape["end"]
        if start > end:
            inside = start <= angle or angle <= end
        else:
            inside = start <= angle <= end
        return distance <= shape["r"] and inside
    raise ValueError(f"unknown shape {kind}")


def footprint(shape):
    r = reach(shape)
    fp = np.zeros((2 * r + 1, 2 * r + 1), dtype=bool)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            fp[dy + r, dx + r] = member(shape, dx, dy)
    return fp


def nonan(v):
    return v[~np.isnan(v)]


def f_mean(v):
    v = nonan(v)
    return np.mean(v) if v.size else np.nan


def f_min(v):
    v = nonan(v)
    return np.min(v) if v.size else np.nan


def f_max(v):
    v = nonan(v)
    return np.max(v) if v.size else np.nan


def f_sum(v):
    # np.nansum of all-NaN is 0; a focal sum of nothing is nodata.
    v = nonan(v)
    return np.sum(v) if v.size else np.nan


def f_median(v):
    v = nonan(v)
    return np.median(v) if v.size else np.nan


def f_mode(v):
    v = nonan(v)
    if not v.size:
        return np.nan
    values, counts = np.unique(v, return_counts=True)
    # np.unique sorts, and argmax takes the first maximum: the smallest of the most frequent.
    return values[np.argmax(counts)]


def f_std(v):
    v = nonan(v)
    return np.std(v, ddof=0) if v.size else np.nan


STATS = {
    "mean": f_mean,
    "min": f_min,
    "max": f_max,
    "sum": f_sum,
    "median": f_median,
    "mode": f_mode,
    "std": f_std,
}


def main():
    folder = Path(sys.argv[1])
    values = np.load(folder / "values.npy").astype(np.float64)
    valid = np.load(folder / "valid.npy").astype(bool)
    cases = json.loads((folder / "cases.json").read_text())["cases"]
    data = np.where(valid, values, np.nan)
    out = np.empty((len(cases),) + data.shape, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, case in enumerate(cases):
            out[i] = ndimage.generic_filter(
                data,
                STATS[case["stat"]],
                footprint=footprint(case["shape"]),
                mode="constant",
                cval=np.nan,
            )
    np.save(folder / "out.npy", out)
    print(json.dumps({"cases": len(cases), "shape": list(data.shape)}))


if __name__ == "__main__":
    main()
