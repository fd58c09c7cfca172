// The storage crate's shared RangeRead suite (tilefn_storage::conformance) run by the browser
// adapter over fetch (a `--features conformance` build of crates/web that scripts/test-web.sh
// writes to tests/.work/web/pkg-conformance), against the Worker's /objects route and against
// a server that ignores Range.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, startWorker } from "../worker/harness.mjs";

const PKG = join(ROOT, "tests", ".work", "web", "pkg-conformance");
const web = await import(pathToFileURL(join(PKG, "tilefn_web.js")).href);
web.initSync({ module: readFileSync(join(PKG, "tilefn_web_bg.wasm")) });

const KEY = "legends/__conformance.bin";
/** conformance::pattern(): byte i is (i * 31) % 251. */
const PATTERN = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) % 251);

let mf;
let origin;
before(async () => {
  mf = await startWorker();
  await (await mf.getR2Bucket("TILES")).put(KEY, PATTERN.buffer.slice(0));
  origin = new URL(await mf.ready).origin;
});
after(async () => {
  await mf?.dispose();
});

test("the Worker's /objects passes the RangeRead suite through the browser adapter", async () => {
  assert.deepEqual(await web.conformanceCheck(`${origin}/objects/${KEY}`), []);
});

test("a server that ignores Range passes it too (200, sliced locally)", async () => {
  const server = createServer(async (req, res) => {
    const upstream = await fetch(`${origin}${req.url}`); // no Range forwarded
    const body = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, { etag: upstream.headers.get("etag") ?? "" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const plain = `http://127.0.0.1:${server.address().port}`;
    assert.deepEqual(await web.conformanceCheck(`${plain}/objects/${KEY}`), []);
  } finally {
    server.close();
  }
});
