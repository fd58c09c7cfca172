#!/usr/bin/env python3
"""Tile lists for bench/tiles.sh (standard library only, any python3).

  tiles.py candidates MANIFEST ZOOMS
      every XYZ tile intersecting the layer's lon/lat bounds at the ZOOMS highest zooms
      up to max_zoom, one "z x y" per line
  tiles.py probe CANDIDATES OUTDIR NAME=URL_TEMPLATE...
      GETs each candidate once from every server (URL_TEMPLATE has {z} {x} {y}) and keeps
      the tiles that every server answers 200 with an image (PNG or JPEG):
      OUTDIR/paths-NAME.txt gets their request paths (for wrk), OUTDIR/tiles.txt their
      "z x y" (candidates for another scenario on the same tiles), stdout one TSV line per
      server: name, tiles kept, mean image bytes of those tiles, and how many candidates it answered otherwise (204/404/...).
  tiles.py check PATHS NAME=BASE_URL
      GETs every path of PATHS (a file probe wrote) from one more server; prints the same
      TSV line, counting non-200 answers (a server that fails a tile the others serve).
"""

import http.client
import json
import math
import sys
import urllib.parse

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


def tile_range(lon_w, lat_s, lon_e, lat_n, z):
    """Inclusive x and y ranges of the tiles at zoom z that intersect the box."""
    n = 1 << z

    def x_of(lon):
        return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))

    def y_of(lat):
        lat = max(-85.05112878, min(85.05112878, lat))
        r = math.radians(lat)
        y = (1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n
        return min(n - 1, max(0, int(y)))

    return (x_of(lon_w), x_of(lon_e)), (y_of(lat_n), y_of(lat_s))


def candidates(manifest_path, zooms):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    w, s, e, n = manifest["bounds"]["lonlat"]
    top = int(manifest["max_zoom"])
    low = max(int(manifest["min_zoom"]), top - int(zooms) + 1)
    for z in range(low, top + 1):
        (x0, x1), (y0, y1) = tile_range(w, s, e, n, z)
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                print(z, x, y)


class Client:
    """One keep-alive connection to a server."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def get(self, path):
        for attempt in range(2):
            try:
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                # A server may close an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def split_template(template):
    """("http://host:port", "/path?query" template) from a full URL template."""
    url = urllib.parse.urlsplit(template)
    base = f"{url.scheme}://{url.netloc}"
    path = url.path + (f"?{url.query}" if url.query else "")
    return base, path


def ok_image(status, body):
    return status == 200 and body.startswith((PNG_SIGNATURE, JPEG_SIGNATURE))


def probe(candidates_path, outdir, specs):
    with open(candidates_path, encoding="utf-8") as f:
        tiles = [tuple(map(int, line.split())) for line in f if line.strip()]
    servers = []
    for spec in specs:
        name, template = spec.split("=", 1)
        base, path = split_template(template)
        servers.append((name, Client(base), path))
    kept = {name: [] for name, _, _ in servers}
    kept_tiles = []
    sizes = {name: 0 for name, _, _ in servers}
    other = {name: 0 for name, _, _ in servers}
    for z, x, y in tiles:
        answers = []
        for name, client, path in servers:
            p = path.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
            status, body = client.get(p)
            if not ok_image(status, body):
                other[name] += 1
            answers.append((name, p, status, body))
        if all(ok_image(status, body) for _, _, status, body in answers):
            kept_tiles.append((z, x, y))
            for name, p, _, body in answers:
                kept[name].append(p)
                sizes[name] += len(body)
    with open(f"{outdir}/tiles.txt", "w", encoding="utf-8") as f:
        f.writelines(f"{z} {x} {y}\n" for z, x, y in kept_tiles)
    for name, _, _ in servers:
        with open(f"{outdir}/paths-{name}.txt", "w", encoding="utf-8") as f:
            f.writelines(p + "\n" for p in kept[name])
        n = len(kept[name])
        print(f"{name}\t{n}\t{sizes[name] / n if n else 0:.0f}\t{other[name]}")


def check(paths_path, spec):
    name, base = spec.split("=", 1)
    client = Client(base)
    with open(paths_path, encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]
    total, good, bad = 0, 0, 0
    for p in paths:
        status, body = client.get(p)
        if ok_image(status, body):
            good += 1
            total += len(body)
        else:
            bad += 1
    print(f"{name}\t{good}\t{total / good if good else 0:.0f}\t{bad}")


def main(argv):
    if len(argv) == 3 and argv[0] == "candidates":
        candidates(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "probe":
        probe(argv[1], argv[2], argv[3:])
    elif len(argv) == 3 and argv[0] == "check":
        check(argv[1], argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
