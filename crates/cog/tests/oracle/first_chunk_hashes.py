"""Regenerates tests/oracle/first_chunk_hashes.tsv: GDAL's pixels for the first tile/strip.

For every corpus file GDAL can read, reads the window covered by block (0, 0) of the full
resolution image, pixel-interleaved, little-endian, and prints the FNV-1a 64 hash of those
bytes. The Rust test decodes the same chunk with tilefn-cog and compares.

Run: <repo>/.venv/bin/python crates/cog/tests/oracle/first_chunk_hashes.py > crates/cog/tests/oracle/first_chunk_hashes.tsv
"""
import csv, os, sys
import numpy as np
import rasterio
from rasterio.windows import Window

CORPUS = os.path.join(os.path.dirname(__file__), "../../../../../shared/corpus/tiff")

def fnv1a64(b: bytes) -> int:
    h = 0xcbf29ce484222325
    for x in b:
        h ^= x
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

rows = list(csv.DictReader(open(os.path.join(CORPUS, "MANIFEST.tsv")), delimiter="\t"))
print("file\twidth\theight\tdtype\thash")
for r in rows:
    if r["category"] not in ("real", "derived", "sidecar") or r["gdal_read"] != "ok":
        continue
    path = os.path.join(CORPUS, r["file"])
    try:
        with rasterio.open(path) as src:
            bh, bw = src.block_shapes[0]
            w, h = min(bw, src.width), min(bh, src.height)
            arr = src.read(window=Window(0, 0, w, h))
    except Exception as e:  # noqa: BLE001
        print(f"# {r['file']}: {e}", file=sys.stderr)
        continue
    if arr.dtype.kind == "c":
        continue
    px = np.ascontiguousarray(arr.transpose(1, 2, 0))
    data = px.astype(px.dtype.newbyteorder("<")).tobytes()
    print(f"{r['file']}\t{w}\t{h}\t{arr.dtype}\t{fnv1a64(data):016x}")
