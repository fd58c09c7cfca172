"""Checks COGs written by tilefn-cog with GDAL (rasterio) and rio-cogeo's validator.

    TILEFN_COG_SAMPLES=/tmp/cogsamples cargo test -p tilefn-cog --test roundtrip write_samples
    <repo>/.venv/bin/python crates/cog/tests/oracle/validate_samples.py /tmp/cogsamples

For every sample: rio-cogeo validation (no errors, no warnings), EPSG:3857 georeferencing,
nodata, and GDAL's pixels for every present tile of every level equal to what was written;
sparse tiles read as nodata.
"""
import glob, math, os, sys
import numpy as np
import rasterio
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

def tiles(raw_path, tile_bytes):
    data = open(raw_path, "rb").read()
    at = 0
    while at < len(data):
        nl = data.index(b"\n", at)
        level, i = map(int, data[at:nl].split())
        yield level, i, data[nl + 1 : nl + 1 + tile_bytes]
        at = nl + 1 + tile_bytes

failures = 0
paths = sorted(glob.glob(os.path.join(sys.argv[1], "*.tif")))
for path in paths:
    name = os.path.basename(path)
    problems = []
    valid, errors, warnings = cog_validate(path, quiet=True)
    if not valid or errors or warnings:
        problems.append(f"cog_validate: errors={errors} warnings={warnings}")
    with rasterio.open(path) as src:
        if src.crs is None or src.crs.to_epsg() != 3857:
            problems.append(f"crs {src.crs}")
        levels = 1 + len(src.overviews(1))
        dtype = np.dtype(src.dtypes[0])
        count, nodata = src.count, src.nodata
        tile_bytes = 256 * 256 * count * dtype.itemsize
    present = {}
    for level, i, px in tiles(path + ".raw", tile_bytes):
        present[(level, i)] = px
    for level in range(levels):
        with rasterio.open(path, overview_level=level - 1) if level else rasterio.open(path) as src:
            side = src.width // 256
            for i in range(side * side):
                col, row = i % side, i // side
                arr = src.read(window=Window(col * 256, row * 256, 256, 256))
                got = np.ascontiguousarray(arr.transpose(1, 2, 0)).astype(dtype.newbyteorder("<")).tobytes()
                want = present.get((level, i))
                if want is not None:
                    if got != want:
                        problems.append(f"level {level} tile {i}: pixels differ")
                else:
                    fill = nodata if nodata is not None else 0
                    if not (np.isnan(arr).all() if isinstance(fill, float) and math.isnan(fill) else (arr == fill).all()):
                        problems.append(f"level {level} tile {i}: sparse tile is not nodata")
    status = "ok" if not problems else "FAIL " + "; ".join(problems[:4])
    failures += bool(problems)
    print(f"{name}: levels={levels} nodata={nodata} {status}")
print(f"{len(paths) - failures}/{len(paths)} ok")
sys.exit(1 if failures else 0)
