// The formula editor's checker: the Rust parser compiled to wasm (`checkFormula`) when the
// browser package is there, else the Worker's own parser, asked through /pixel (a parse
// error is a 400 with `position` before any read). Both report the same byte offset.

import { loadWasm } from "./browser.js";

/**
 * `{ok: true, variables, problem?}` | `{ok: false, position, message}` for `formula`
 * (`problem`: the server fallback's other complaint, e.g. an unbound variable).
 */
export async function checkFormula(formula, bindings) {
  try {
    const { checkFormula: check } = await loadWasm();
    const r = check(formula);
    return r.ok
      ? { ok: true, variables: [...(r.variables || [])], by: "wasm" }
      : { ok: false, position: r.position, message: r.message, by: "wasm" };
  } catch {
    return checkOnServer(formula, bindings);
  }
}

async function checkOnServer(formula, bindings) {
  // The formula is parsed before any read; with the bindings, a good formula at (0, 0) is a
  // cheap 200 (nodata), an unbound variable or unknown layer a 4xx naming it.
  const q = new URLSearchParams({ crs: "4326", layers: bindings, formula }).toString();
  const res = await fetch(`/pixel/0/0?${q}`);
  const body = await res.json().catch(() => null);
  const err = body?.error;
  if (err?.code === "bad_formula") {
    return { ok: false, position: err.position ?? 0, message: err.message, by: "server" };
  }
  return { ok: true, variables: null, problem: err?.message, by: "server" };
}

/** The character index of a UTF-8 byte offset (the parser reports bytes). */
export function charIndexOfByte(text, byteOffset) {
  const enc = new TextEncoder();
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    if (bytes >= byteOffset) return i;
    bytes += enc.encode(ch).length;
    i += ch.length;
  }
  return text.length;
}

/**
 * Fills `mirror` with the formula, the character at the error position wrapped in
 * `<span class="err-char">` (a visible marker when the error is at the end).
 */
export function renderMirror(mirror, formula, result) {
  mirror.replaceChildren();
  if (!result || result.ok) {
    mirror.textContent = formula;
    return;
  }
  const at = charIndexOfByte(formula, result.position);
  const cp = formula.codePointAt(at);
  const len = cp === undefined ? 0 : String.fromCodePoint(cp).length;
  const mark = document.createElement("span");
  mark.className = "err-char";
  mark.dataset.position = String(result.position);
  mark.textContent = len ? formula.slice(at, at + len) : "\u2423"; // ␣ past the end
  mirror.append(formula.slice(0, at), mark, formula.slice(at + len));
}
