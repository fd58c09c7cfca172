// The browser renderer (crates/web, built into www/pkg by scripts/build-web.sh) against the
// Worker: Miniflare runs build/ with R2 seeded from an ingested store and listens on a real
// 127.0.0.1 port; the wasm package runs in Node (global fetch) and reads /objects/{key} from
// it. Its tiles must decode to exactly the Worker's RGBA.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, startWorker, tool } from "../worker/harness.mjs";

const STORE = process.env.TILEFN_TEST_STORE;
if (!STORE) throw new Error("run through scripts/test-web.sh (needs TILEFN_TEST_STORE)");
const PKG = join(ROOT, "www", "pkg");
const { PNG } = await tool("pngjs");
const web = await import(pathToFileURL(join(PKG, "tilefn_web.js")).href);
web.initSync({ module: readFileSync(join(PKG, "tilefn_web_bg.wasm")) });

let mf;
let origin;
let layers;

before(async () => {
  mf = await startWorker({ store: STORE });
  origin = new URL(await mf.ready).origin;
  layers = (await (await fetch(`${origin}/layers`)).json()).layers;
});
after(async () => {
  await mf?.dispose();
});

const layer = (id) => {
  const l = layers.find((l) => l.id === id);
  assert.ok(l, `layer ${id} is listed`);
  return l;
};

/** The XYZ tile holding (lon, lat) at zoom z. */
function tileAt(lon, lat, z) {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n);
  return { z, x, y };
}

function centreTile(l, z) {
  const [w, s, e, n] = l.bounds;
  return tileAt((w + e) / 2, (s + n) / 2, z);
}

/** A few tiles per layer: its zoom range's ends and middle, at the centre and a corner. */
function tilesOf(l) {
  const zooms = [...new Set([l.min_zoom, Math.round((l.min_zoom + l.max_zoom) / 2), l.max_zoom])];
  const out = zooms.map((z) => centreTile(l, z));
  const [w, , , n] = l.bounds;
  out.push(tileAt(w + 1e-6, n - 1e-6, l.max_zoom)); // a partial edge tile
  return out;
}

function decode(bytes) {
  return PNG.sync.read(Buffer.from(bytes));
}

const medians = new Map();
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Renders `path` in the Worker and in the browser build and compares the results. */
async function compare(tiler, name, path) {
  const edge = await fetch(`${origin}${path}`);
  const edgeBody = Buffer.from(await edge.arrayBuffer());
  const local = await tiler.fetch(path);
  assert.equal(local.status, edge.status, `${path}: status`);
  assert.ok(local.body instanceof Uint8Array);
  assert.equal(typeof local.renderMs, "number");
  if (edge.status === 204) return false;
  assert.equal(edge.status, 200, `${path}: ${edgeBody}`);
  assert.equal(local.contentType, edge.headers.get("content-type"));
  const a = decode(edgeBody);
  const b = decode(local.body);
  assert.equal(b.width, a.width);
  assert.equal(b.height, a.height);
  assert.ok(Buffer.compare(a.data, b.data) === 0, `${path}: RGBA differs`);
  // Warm timing: manifest and header are cached after the first call.
  const times = [];
  for (let i = 0; i < 5; i++) times.push((await tiler.fetch(path)).renderMs);
  medians.set(name, [...(medians.get(name) ?? []), median(times)]);
  return true;
}

const CASES = [
  ["dem viridis", "dem", (t) => `/tiles/dem/${t.z}/${t.x}/${t.y}.png?colormap_name=viridis`],
  ["landcover legend", "landcover", (t) => `/tiles/landcover/${t.z}/${t.x}/${t.y}.png`],
  ["ms RGB", "ms", (t) => `/algebra/${t.z}/${t.x}/${t.y}.png?layers=r:2=ms,g:1=ms,b:0=ms`],
  [
    "ms NDVI",
    "ms",
    (t) =>
      `/algebra/${t.z}/${t.x}/${t.y}.png?layers=a:3=ms,b:2=ms&formula=(a-b)/(a%2Bb)` +
      `&colormap_name=rdylgn&rescale=-1,1`,
  ],
  [
    "ms NDVI default stretch",
    "ms",
    (t) => `/algebra/${t.z}/${t.x}/${t.y}.png?layers=a:3=ms,b:2=ms&formula=(a-b)/(a%2Bb)`,
  ],
];

test("browser tiles are pixel-identical to the Worker's", async () => {
  const tiler = new web.BrowserTiler(origin);
  for (const [name, id, url] of CASES) {
    let drawn = 0;
    for (const t of tilesOf(layer(id))) {
      if (await compare(tiler, name, url(t))) drawn++;
    }
    assert.ok(drawn >= 2, `${name}: at least two tiles with data (got ${drawn})`);
  }
  for (const [name, ms] of medians) {
    console.log(`renderMs median (warm) ${name}: ${median(ms).toFixed(2)} ms over ${ms.length} tiles`);
  }
  // renderMs includes the tile's one range read; its share, measured alone:
  const { key } = await objectKey();
  const io = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await (await fetch(`${origin}/objects/${key}`, { headers: { range: "bytes=0-65535" } })).arrayBuffer();
    io.push(performance.now() - t0);
  }
  console.log(`one 64 KiB /objects range read from Node: median ${median(io).toFixed(2)} ms`);
});

test("JSON routes and errors match the Worker's", async () => {
  const tiler = new web.BrowserTiler(origin);
  const listed = await tiler.fetch("/layers");
  assert.equal(listed.status, 200);
  assert.equal(listed.contentType, "application/json");
  const ids = JSON.parse(new TextDecoder().decode(listed.body)).layers.map((l) => l.id);
  assert.deepEqual(ids.sort(), ["dem", "landcover", "ms"]);

  const l = layer("dem");
  const { z, x, y } = centreTile(l, l.max_zoom);
  const pixelPath = `/pixel/${(l.bounds[0] + l.bounds[2]) / 2}/${(l.bounds[1] + l.bounds[3]) / 2}?crs=4326&layers=a=dem&formula=a*2`;
  const edge = await (await fetch(`${origin}${pixelPath}`)).json();
  const local = await tiler.fetch(pixelPath);
  assert.equal(local.status, 200);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(local.body)), edge);

  for (const path of [
    `/algebra/${z}/${x}/${y}.png?layers=a=dem&formula=a%2B`,
    `/tiles/nope/${z}/${x}/${y}.png`,
    `/tiles/dem/${z}/${x}/${y}.png?colormap_name=nope`,
  ]) {
    const e = await fetch(`${origin}${path}`);
    const body = await e.json();
    const r = await tiler.fetch(path);
    assert.equal(r.status, e.status, path);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r.body)), body, path);
  }
});

test("checkFormula reports the parser's position", () => {
  assert.deepEqual(web.checkFormula("b + a*2"), { ok: true, variables: ["a", "b"] });
  const bad = web.checkFormula("a+b*");
  assert.equal(bad.ok, false);
  assert.equal(bad.position, 4);
  assert.equal(typeof bad.expected, "string");
  assert.match(bad.message, /at byte 4/);
  assert.equal(web.checkFormula("(a - b").position, 6);
  assert.equal(web.checkFormula("a $ b").position, 2);
  assert.equal(web.checkFormula("").ok, false);
});

// ---- /objects/{key}: R2-public-bucket semantics --------------------------------------------

async function objectKey() {
  const manifest = await (await fetch(`${origin}/objects/layers/dem/manifest.json`)).json();
  const obj = manifest.objects[0];
  return { key: obj.key, etag: obj.etag };
}

test("/objects serves whole objects and single ranges", async () => {
  const { key, etag } = await objectKey();
  const whole = await fetch(`${origin}/objects/${key}`);
  assert.equal(whole.status, 200);
  const all = Buffer.from(await whole.arrayBuffer());
  const size = all.length;
  assert.ok(size > 100);
  assert.equal(whole.headers.get("etag"), etag, "the manifest pins R2's httpEtag");
  assert.equal(whole.headers.get("accept-ranges"), "bytes");
  assert.equal(whole.headers.get("access-control-allow-origin"), "*");
  assert.match(whole.headers.get("access-control-expose-headers"), /ETag.*Content-Range/);
  assert.match(whole.headers.get("cache-control"), /max-age=\d+/);

  const cases = [
    ["bytes=0-9", 0, 10],
    ["bytes=10-", 10, size],
    ["bytes=-16", size - 16, size],
    [`bytes=${size - 4}-${size + 100}`, size - 4, size],
  ];
  for (const [range, start, end] of cases) {
    const res = await fetch(`${origin}/objects/${key}`, { headers: { range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get("content-range"), `bytes ${start}-${end - 1}/${size}`, range);
    assert.equal(res.headers.get("etag"), etag);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.headers.get("content-length"), String(end - start), range);
    assert.ok(body.equals(all.subarray(start, end)), range);
  }

  // Unsupported forms are ignored (200, the whole object), as RFC 9110 allows.
  const multi = await fetch(`${origin}/objects/${key}`, { headers: { range: "bytes=0-1,4-5" } });
  assert.equal(multi.status, 200);
  assert.equal((await multi.arrayBuffer()).byteLength, size);

  const head = await fetch(`${origin}/objects/${key}`, { method: "HEAD", headers: { range: "bytes=0-9" } });
  assert.equal(head.status, 206);
  assert.equal(head.headers.get("content-range"), `bytes 0-9/${size}`);
});

test("/objects: 416, 304, 404 and refused keys", async () => {
  const { key, etag } = await objectKey();
  const size = Number((await fetch(`${origin}/objects/${key}`, { method: "HEAD" })).headers.get("content-length"));

  const past = await fetch(`${origin}/objects/${key}`, { headers: { range: `bytes=${size}-` } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get("content-range"), `bytes */${size}`);
  await past.arrayBuffer();

  const fresh = await fetch(`${origin}/objects/${key}`, { headers: { "if-none-match": etag } });
  assert.equal(fresh.status, 304);
  assert.equal(fresh.headers.get("etag"), etag);
  await fresh.arrayBuffer();
  const stale = await fetch(`${origin}/objects/${key}`, { headers: { "if-none-match": '"other"' } });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();

  const manifest = await fetch(`${origin}/objects/layers/dem/manifest.json`);
  assert.equal(manifest.headers.get("cache-control"), "no-cache");
  assert.equal(manifest.headers.get("content-type"), "application/json");
  await manifest.arrayBuffer();

  for (const path of [
    "layers/nope/manifest.json",
    "layers%2F..%2Flegends/x.json",
    "/layers/dem/manifest.json",
    "changing.bin",
    "other/key",
  ]) {
    const res = await fetch(`${origin}/objects/${path}`);
    assert.equal(res.status, 404, path);
    const body = await res.json();
    assert.equal(body.error.code, "not_found", path);
  }

  const post = await fetch(`${origin}/objects/${key}`, { method: "POST" });
  assert.equal(post.status, 405);
  await post.arrayBuffer();
  const pre = await fetch(`${origin}/objects/${key}`, { method: "OPTIONS" });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get("access-control-allow-headers"), /Range/);
});

// ---- servers that ignore Range, or whose objects changed -----------------------------------

/** A Node server in front of the Worker; `rewrite(res)` may alter the upstream answer. */
async function proxy(handler) {
  const http = await import("node:http");
  const server = http.createServer(async (req, res) => {
    try {
      const upstream = await fetch(`${origin}${req.url}`);
      const body = Buffer.from(await upstream.arrayBuffer());
      const headers = { "content-type": upstream.headers.get("content-type") ?? "application/octet-stream" };
      const etag = upstream.headers.get("etag");
      if (etag) headers.etag = etag;
      handler(req, headers);
      res.writeHead(upstream.status, headers);
      res.end(body);
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

test("a server that ignores Range (200) gives the same tiles", async () => {
  // The proxy never forwards `Range`: every read is the whole object, sliced locally.
  let ranged = 0;
  const { server, origin: plain } = await proxy((req) => {
    if (req.headers.range) ranged++;
  });
  try {
    const tiler = new web.BrowserTiler(plain);
    const l = layer("dem");
    const t = centreTile(l, l.max_zoom);
    const path = `/tiles/dem/${t.z}/${t.x}/${t.y}.png?colormap_name=viridis`;
    const edge = decode(Buffer.from(await (await fetch(`${origin}${path}`)).arrayBuffer()));
    const local = await tiler.fetch(path);
    assert.equal(local.status, 200, new TextDecoder().decode(local.body));
    assert.ok(Buffer.compare(decode(local.body).data, edge.data) === 0);
    assert.ok(ranged > 0, "the tiler asked for ranges");
  } finally {
    server.close();
  }
});

test("objects whose ETag no longer matches the manifest are 503 changed", async () => {
  const { server, origin: changed } = await proxy((req, headers) => {
    if (req.url.endsWith(".tif") && headers.etag) headers.etag = '"replaced"';
  });
  try {
    const tiler = new web.BrowserTiler(changed);
    const l = layer("dem");
    const t = centreTile(l, l.max_zoom);
    const r = await tiler.fetch(`/tiles/dem/${t.z}/${t.x}/${t.y}.png`);
    assert.equal(r.status, 503, new TextDecoder().decode(r.body));
    assert.equal(JSON.parse(new TextDecoder().decode(r.body)).error.code, "changed");
  } finally {
    server.close();
  }
});
