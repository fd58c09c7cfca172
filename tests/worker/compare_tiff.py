"""Checks a GeoTIFF tile returned by the Worker against the stored COG, read with rasterio.

Usage: compare_tiff.py STORE LAYER Z X Y TILE.tif
Exit 0 when the tile's values (every band, every pixel) equal the stored COG's internal tile
for that XYZ tile, as GDAL reads it; prints what differs otherwise. GDAL is an independent
reader: neither our COG parser nor our GeoTIFF encoder is trusted by this check.
"""

import json
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

TILE = 256


def stored_window(store: Path, layer: str, z: int, x: int, y: int) -> np.ndarray:
    manifest = json.loads((store / "layers" / layer / "manifest.json").read_text())
    group = next(g for g in manifest["groups"] if g["anchor_zoom"] <= z <= g["max_zoom"])
    shift = z - group["anchor_zoom"]
    ax, ay = x >> shift, y >> shift
    level = group["max_zoom"] - z
    col, row = x - (ax << shift), y - (ay << shift)
    key = f'{manifest["prefix"]}cog/{group["anchor_zoom"]}/{ax}/{ay}.tif'
    # Level 0 is the full-resolution image; level i is GDAL's overview i - 1.
    opts = {"overview_level": level - 1} if level > 0 else {}
    with rasterio.open(store / key, **opts) as src:
        return src.read(window=Window(col * TILE, row * TILE, TILE, TILE))


def main() -> int:
    store, layer, z, x, y, tile = sys.argv[1:7]
    want = stored_window(Path(store), layer, int(z), int(x), int(y))
    with rasterio.open(tile) as got_src:
        got = got_src.read()
        crs = got_src.crs
    if got.shape != want.shape:
        print(f"shape {got.shape} != stored {want.shape}")
        return 1
    if got.dtype != want.dtype:
        print(f"dtype {got.dtype} != stored {want.dtype}")
        return 1
    same = got == want
    if np.issubdtype(want.dtype, np.floating):
        same |= np.isnan(got) & np.isnan(want)
    if not same.all():
        diff = np.argwhere(~same)
        first = tuple(diff[0])
        print(f"{len(diff)} values differ, first at {list(first)}: {got[first]} != {want[first]}")
        return 1
    if crs is None or crs.to_epsg() != 3857:
        print(f"tile CRS is {crs}, expected EPSG:3857")
        return 1
    print(f"ok: {got.shape} {got.dtype} equal to the stored COG tile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
