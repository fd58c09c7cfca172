"""Request bodies and answer summaries for bench/statistics.sh.

    python3 bench/statistics/bodies.py write DIR       # small.json large.json fields.json
    python3 bench/statistics/bodies.py pixels FILE     # "features valid_pixels" of an answer

The polygons lie inside the benchmark DEM (tilefn-demodata dem: 12.36..14.00 E,
46.00..47.13 N), in EPSG:4326, as GeoJSON Features (TiTiler's /cog/statistics takes a
Feature or a FeatureCollection; tilefn's /statistics takes those and bare geometries):
  small   a 0.01° square
  large   a 0.2° square
  fields  a FeatureCollection of 20 fields, quadrilaterals of 0.004..0.008° (~300..600 m)
"""

import json
import os
import sys


def square(x0, y0, size):
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def fields():
    out = []
    for i in range(20):
        x0, y0 = 13.30 + 0.012 * (i % 5), 46.70 + 0.011 * (i // 5)
        w, h = 0.004 + 0.001 * (i % 5), 0.004 + 0.001 * (i % 4)
        ring = [[x0, y0], [x0 + w, y0 + 0.0004], [x0 + w - 0.0006, y0 + h], [x0 - 0.0003, y0 + h - 0.0005], [x0, y0]]
        out.append({"type": "Feature", "id": i, "properties": {"field": i},
                    "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": out}


def write(d):
    bodies = {
        "small": feature(square(13.20, 46.50, 0.01), name="0.01 deg square"),
        "large": feature(square(13.00, 46.40, 0.2), name="0.2 deg square"),
        "fields": fields(),
    }
    for name, body in bodies.items():
        with open(os.path.join(d, f"{name}.json"), "w") as f:
            json.dump(body, f)


def pixels(path):
    """Features and valid pixels of a tilefn or TiTiler answer."""
    with open(path) as f:
        a = json.load(f)
    if "bands" in a:  # tilefn, one feature
        items = [a]
    elif "features" in a and a["features"] and "bands" in a["features"][0]:  # tilefn collection
        items = a["features"]
    else:  # TiTiler: a Feature or a FeatureCollection, statistics in the properties
        feats = a["features"] if a.get("type") == "FeatureCollection" else [a]
        stats = [f["properties"]["statistics"] for f in feats]
        print(len(stats), sum(int(next(iter(s.values()))["valid_pixels"]) for s in stats))
        return
    print(len(items), sum(f["bands"][0]["count"] for f in items))


if __name__ == "__main__":
    {"write": write, "pixels": pixels}[sys.argv[1]](sys.argv[2])
