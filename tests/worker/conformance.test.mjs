// The storage conformance suite (tilefn_storage::conformance) run inside workerd through the
// test-only route, against the real R2 binding and against `fetch` of a local HTTP server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startWorker } from "./harness.mjs";

// The suite's pattern object: byte i is i * 31 % 251, 100 000 bytes.
const PATTERN = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) % 251));
const ETAG = '"pattern-v1"';

/** A range-capable server with ETag/If-Match (206, 416, 412), like S3 or a static host. */
function rangeServer(req, res) {
  if (req.headers["if-match"] && req.headers["if-match"] !== ETAG) {
    res.writeHead(412).end();
    return;
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
  if (!m) {
    res.writeHead(200, { etag: ETAG, "content-length": PATTERN.length }).end(PATTERN);
    return;
  }
  const first = Number(m[1]);
  const last = Math.min(Number(m[2]), PATTERN.length - 1);
  if (first >= PATTERN.length) {
    res.writeHead(416, { "content-range": `bytes */${PATTERN.length}` }).end();
    return;
  }
  res
    .writeHead(206, { etag: ETAG, "content-range": `bytes ${first}-${last}/${PATTERN.length}` })
    .end(PATTERN.subarray(first, last + 1));
}

/** A server that ignores Range and always sends the whole object with 200. */
function plainServer(req, res) {
  res.writeHead(200, { etag: ETAG, "content-length": PATTERN.length }).end(PATTERN);
}

let mf;
const servers = [];
async function listen(handler) {
  const server = createServer(handler);
  servers.push(server);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${server.address().port}/pattern.bin`;
}

before(async () => {
  mf = await startWorker({ vars: { TILEFN_TEST_ROUTES: "1" } });
});
after(async () => {
  await mf?.dispose();
  for (const s of servers) s.close();
});

async function runSuite(query = "") {
  const res = await mf.dispatchFetch(`http://localhost/__test/conformance${query}`);
  assert.equal(res.status, 200);
  const body = await res.json();
  for (const c of body.checks) assert.ok(c.ok, `${c.name}: ${c.error}`);
  assert.equal(body.ok, true);
  return body;
}

test("R2 adapter passes the storage conformance suite inside workerd", async () => {
  const body = await runSuite();
  assert.deepEqual(body.checks.map((c) => c.name), ["r2 bucket", "r2 change detected"]);
});

test("fetch adapter passes the suite against a range-capable server", async () => {
  const url = await listen(rangeServer);
  const body = await runSuite(`?url=${encodeURIComponent(url)}`);
  assert.ok(body.checks.some((c) => c.name === "http object"));
});

test("fetch adapter passes the suite against a server that ignores Range", async () => {
  const url = await listen(plainServer);
  await runSuite(`?url=${encodeURIComponent(url)}`);
});

test("test routes are off unless TILEFN_TEST_ROUTES is 1", async () => {
  const off = await startWorker();
  try {
    const res = await off.dispatchFetch("http://localhost/__test/conformance");
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  } finally {
    await off.dispose();
  }
});
