// The app benchmark (`make bench-app`): package size, start to first painted
// frame, idle memory, panning a 1,000-node flow, and typing in the chat while
// the local model generates — on the binary given, in the real WebKit window
// under Xvfb (scripts/e2e.sh sets up the display, the driver and a fresh data
// home). Prints one figure per line and a JSON summary; asserts nothing about
// speed (figures are reported, never gated).
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

import { remote } from "webdriverio";

const app = process.env.CODEXOS_APP;
const home = process.env.CODEXOS_HOME;
const deb = process.env.CODEXOS_DEB ?? "";
const runs = Number(process.env.BENCH_STARTS ?? 7);
const results = {};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function report(name, value, unit, note = "") {
  results[name] = { value, unit, note };
  console.log(`${name.padEnd(34)} ${String(value).padStart(10)} ${unit}${note ? `   (${note})` : ""}`);
}

/** Resident memory of `pid` and every process under it, in MiB. */
function treeRss(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(Number(entry));
    } catch {
      // The process ended while listing.
    }
  }
  const rss = (id) => {
    try {
      const line = readFileSync(`/proc/${id}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
      return line ? Number(line[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  // PSS: shared libraries split among the processes that map them (RSS
  // counts each in full, in every process).
  const pss = (id) => {
    try {
      const line = readFileSync(`/proc/${id}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
      return line ? Number(line[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  let total = 0;
  let proportional = 0;
  const names = [];
  const walk = (id) => {
    const own = rss(id);
    total += own;
    proportional += pss(id);
    try {
      names.push(`${readFileSync(`/proc/${id}/comm`, "utf8").trim()} ${own.toFixed(0)}`);
    } catch {
      // Gone.
    }
    for (const child of children.get(id) ?? []) walk(child);
  };
  walk(pid);
  return { total, proportional, names, categories: categories(pid, children) };
}

/** Where the tree's memory is, by kind of mapping: RSS and PSS in MiB. */
function categories(pid, children) {
  const binary = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  const kind = (path) => {
    if (!path || path.startsWith("[") || path.includes("(deleted)") || path.startsWith("/memfd:") || path.startsWith("/SYSV")) return "heaps and other anonymous memory";
    if (/libLLVM|\/dri\/|libgallium|libEGL|libGLX|libGL\.|libglapi|libgbm/.test(path)) return "Mesa software OpenGL (LLVM, swrast)";
    if (/webkit2gtk|javascriptcoregtk|WebKit(Web|Network)Process|libflite/.test(path)) return "WebKitGTK and JavaScriptCore";
    if (path.endsWith(`/${binary}`) || path.endsWith("/codexos-desktop") || path.endsWith("/codexos-blank-window")) return "the app's own binary";
    return "other shared libraries";
  };
  const sums = new Map();
  const visit = (id) => {
    let current = "";
    let smaps = "";
    try {
      smaps = readFileSync(`/proc/${id}/smaps`, "utf8");
    } catch {
      return;
    }
    for (const line of smaps.split("\n")) {
      const mapping = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
      if (mapping) {
        current = kind(mapping[1]);
        continue;
      }
      const value = line.match(/^(Rss|Pss):\s+(\d+) kB/);
      if (!value) continue;
      const entry = sums.get(current) ?? { rss: 0, pss: 0 };
      entry[value[1].toLowerCase()] += Number(value[2]) / 1024;
      sums.set(current, entry);
    }
    for (const child of children.get(id) ?? []) visit(child);
  };
  visit(pid);
  return Object.fromEntries([...sums].sort((a, b) => b[1].pss - a[1].pss).map(([name, { rss, pss }]) => [name, { rss: Math.round(rss), pss: Math.round(pss) }]));
}

function printCategories(label, categoriesOf) {
  for (const [name, { rss, pss }] of Object.entries(categoriesOf)) console.log(`  ${label}: ${name.padEnd(36)} RSS ${String(rss).padStart(4)} MiB   PSS ${String(pss).padStart(4)} MiB`);
}

function header() {
  const commit = (() => {
    try {
      return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  })();
  console.log(`CodexOS app benchmark · commit ${commit} · ${new Date().toISOString()} · ${cpus()[0]?.model ?? "cpu"} · ${cpus().length} cores · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · binary ${app}`);
  console.log("display: Xvfb 1440x900, software rendering (no GPU); WebKitGTK from the system");
  console.log(`build profile: ${app.includes("/release/") ? "release" : app.includes("/debug/") ? "debug (figures not representative)" : "installed package"}`);
}

/** Start to first painted frame: the app prints `painted MS` and exits. */
async function startTimes() {
  const walls = [];
  const inside = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const child = spawn(app, [], { env: { ...process.env, CODEXOS_EXIT_WHEN_PAINTED: "1" }, stdio: ["ignore", "pipe", "ignore"] });
    const line = await new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("no paint within 60 s")), 60_000);
      child.stdout.on("data", (data) => {
        out += data;
        const match = out.match(/painted (\d+)/);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.on("exit", () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    if (line === null) throw new Error(`start ${run + 1}: the app exited without painting`);
    walls.push(performance.now() - started);
    inside.push(line);
    await new Promise((resolve) => (child.exitCode === null ? child.on("exit", resolve) : resolve()));
  }
  // The first start also sets up the fresh data home (database, examples);
  // all runs find the binary and WebKit in the page cache (this benchmark
  // cannot drop it): these are warm starts, not cold ones.
  report("start: first run, new data home", Math.round(walls[0]), "ms", "spawn → first frame painted");
  report("start: median of later runs", Math.round(median(walls.slice(1))), "ms", `${runs - 1} runs, warm page cache`);
  report("start: in-process median", Math.round(median(inside)), "ms", "app start → first frame, as the app measures it");
}

async function session() {
  return remote({
    hostname: "127.0.0.1",
    port: Number(process.env.CODEXOS_DRIVER_PORT ?? 4444),
    logLevel: "error",
    capabilities: { "tauri:options": { application: app }, "wdio:enforceWebDriverClassic": true },
  });
}

function appPid(binary = app) {
  const out = execFileSync("pgrep", ["-n", "-f", `^${binary}`], { encoding: "utf8" }).trim();
  return Number(out);
}

/**
 * The baseline: a blank Tauri 2 window (crates/blank-window, the same Tauri,
 * WebKitGTK, profile and display), measured the way the app is — the same
 * compositing choice, 5 s after its page shows.
 */
async function blankWindow(binary) {
  const browser = await remote({
    hostname: "127.0.0.1",
    port: Number(process.env.CODEXOS_DRIVER_PORT ?? 4444),
    logLevel: "error",
    capabilities: { "tauri:options": { application: binary }, "wdio:enforceWebDriverClassic": true },
  });
  try {
    await browser.$("#ready").waitForDisplayed({ timeout: 60_000 });
    await browser.pause(5_000);
    const idle = treeRss(appPid(binary));
    report("idle memory: blank Tauri window", Math.round(idle.total), "MiB", `RSS: ${idle.names.join(", ")}; PSS ${Math.round(idle.proportional)} MiB`);
    results["idle memory: blank Tauri window"].pss = idle.proportional;
    printCategories("blank", idle.categories);
  } finally {
    await browser.deleteSession();
  }
}

/** A flow of `count` agent-free nodes in a grid (transform nodes, chained). */
function bigFlow(count) {
  const nodes = [{ id: "start", kind: "input", position: { x: 0, y: 0 } }];
  const edges = [];
  for (let index = 1; index < count - 1; index += 1) {
    nodes.push({ id: `n${index}`, kind: "transform", set: { [`k${index % 10}`]: `${index}` }, position: { x: (index % 25) * 220, y: Math.floor(index / 25) * 110 } });
    edges.push({ from: index === 1 ? "start" : `n${index - 1}`, to: `n${index}` });
  }
  nodes.push({ id: "done", kind: "output", keys: ["k0"], position: { x: 0, y: Math.ceil(count / 25) * 110 + 110 } });
  edges.push({ from: `n${count - 2}`, to: "done" });
  const state = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`k${index}`, "string"]));
  return { version: 2, name: "bench-1000", state, nodes, edges };
}

/** Nodes of the panned flow (BENCH_NODES: another size, e.g. a small one for the display's ceiling). */
const nodeCount = Number(process.env.BENCH_NODES ?? 1000);

async function idleAndCanvas(browser) {
  await browser.$('[data-testid="chat-input"]').waitForDisplayed({ timeout: 60_000 });
  await browser.pause(5_000);
  const idle = treeRss(appPid());
  report("idle memory: app + WebKit", Math.round(idle.total), "MiB", `RSS: ${idle.names.join(", ")}; PSS ${Math.round(idle.proportional)} MiB`);
  printCategories("CodexOS", idle.categories);
  if (results["idle memory: blank Tauri window"]) {
    const blank = results["idle memory: blank Tauri window"];
    report("idle memory: CodexOS over the blank window", Math.round(idle.total - blank.value), "MiB", `RSS; PSS ${Math.round(idle.proportional - blank.pss)} MiB`);
  }
  if (only === "idle") return;

  writeFileSync(join(home, "flows", "bench-1000.flow.json"), JSON.stringify(bigFlow(nodeCount)));
  await browser.refresh();
  const picker = await browser.$('[data-testid="flow-picker"]');
  await picker.waitForDisplayed({ timeout: 60_000 });
  await browser.waitUntil(async () => (await picker.getText()).includes("bench-1000"), { timeout: 30_000 });
  await picker.selectByAttribute("value", "bench-1000");
  // (A big flow keeps only the nodes in view in the page: tens, not 1,000.)
  await browser.waitUntil(async () => (await browser.$$(".react-flow__node")).length > 10, { timeout: 60_000, timeoutMsg: "the big flow did not render" });
  await browser.pause(2_000);
  const rendered = (await browser.$$(".react-flow__node")).length;
  // Pan by dragging the pane for 3 s, one step per frame; count frames.
  const transformBefore = await browser.execute(() => document.querySelector(".react-flow__viewport")?.style.transform ?? "");
  const frames = await browser.executeAsync((done) => {
    const pane = document.querySelector(".react-flow__pane");
    const box = pane.getBoundingClientRect();
    let x = box.left + box.width / 2;
    const y = box.top + box.height / 2;
    const fire = (type, clientX) => pane.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, clientX, clientY: y, button: 0, buttons: 1, view: window }));
    fire("mousedown", x);
    const times = [];
    let moved = 0;
    let last = document.querySelector(".react-flow__viewport").style.transform;
    const start = performance.now();
    const step = (now) => {
      times.push(now);
      const current = document.querySelector(".react-flow__viewport").style.transform;
      if (current !== last) moved += 1;
      last = current;
      x += (times.length % 200 < 100 ? -4 : 4);
      window.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: x, clientY: y, buttons: 1, view: window }));
      if (now - start < 3_000) requestAnimationFrame(step);
      else {
        window.dispatchEvent(new MouseEvent("mouseup", { bubbles: true, clientX: x, clientY: y, view: window }));
        done({ times, moved });
      }
    };
    requestAnimationFrame(step);
  });
  const gaps = frames.times.slice(1).map((time, index) => time - frames.times[index]);
  // The drag ends where it started (left, then right): sample mid-way too.
  const transformAfter = await browser.execute(() => document.querySelector(".react-flow__viewport")?.style.transform ?? "");
  if (frames.moved === 0) throw new Error(`the pan did not move the viewport (${transformBefore} → ${transformAfter}): the figure would be idle fps`);
  report(`canvas: ${nodeCount.toLocaleString("en")}-node flow pan`, Math.round((1000 * gaps.length) / (frames.times.at(-1) - frames.times[0])), "fps", `${rendered} of ${nodeCount.toLocaleString("en")} nodes in the DOM, p95 frame ${percentile(gaps, 95).toFixed(1)} ms, viewport moved in ${frames.moved} of ${frames.times.length} frames`);
  const loaded = treeRss(appPid());
  report(`memory with the ${nodeCount.toLocaleString("en")}-node flow`, Math.round(loaded.total), "MiB", "app + WebKit");
}

async function typing(browser) {
  // The default flow on the canvas (not the 1,000-node one), chat mode, a
  // long answer; type while it streams.
  const picker = await browser.$('[data-testid="flow-picker"]');
  await picker.waitForDisplayed({ timeout: 60_000 });
  await picker.selectByAttribute("value", "rag-qa");
  await browser.pause(1_000);
  await browser.$('[data-testid="mode-chat"]').click();
  await browser.execute(() => {
    const input = document.querySelector('[data-testid="chat-input"]');
    Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set.call(input, "Write a long story about a lighthouse keeper, at least 300 words.");
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await browser.$('[data-testid="ask-button"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="answer"]').getAttribute("data-phase")) === "generating" && (await browser.$('[data-testid="answer-text"]').isExisting()), { timeout: 120_000, timeoutMsg: "the model did not start" });
  const latencies = await browser.executeAsync((done) => {
    const input = document.querySelector('[data-testid="chat-input"]');
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    const text = "typing while the model answers";
    const measured = [];
    let index = 0;
    const next = () => {
      if (index >= text.length) return done(measured);
      const started = performance.now();
      setter.call(input, text.slice(0, index + 1));
      input.dispatchEvent(new Event("input", { bubbles: true }));
      // Painted when the frame after the update starts.
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          measured.push(performance.now() - started);
          index += 1;
          setTimeout(next, 50);
        }),
      );
    };
    next();
  });
  const phase = await browser.$('[data-testid="answer"]').getAttribute("data-phase");
  report("typing latency while generating", percentile(latencies, 50).toFixed(1), "ms", `median of ${latencies.length} keystrokes, p95 ${percentile(latencies, 95).toFixed(1)} ms, input event → next painted frame (synthetic input events, not key presses); answer still ${phase} at the end`);
  if (phase !== "generating") console.log("  note: the answer ended before the last keystroke; the later ones were measured without generation");
  const stop = await browser.$('[data-testid="stop-button"]');
  if (await stop.isExisting()) await stop.click();
}

header();
// Long answers for the typing measurement (scripts/e2e.sh writes 96 tokens).
writeFileSync(join(home, "config.toml"), "[llm]\nmax_tokens = 768\ntemperature = 0.0\n");
if (deb) {
  report("package size (.deb)", (statSync(deb).size / 1024 / 1024).toFixed(1), "MiB", deb.split("/").pop());
  const installed = execFileSync("dpkg-deb", ["-f", deb, "Installed-Size"], { encoding: "utf8" }).trim();
  report("installed size", (Number(installed) / 1024).toFixed(1), "MiB", "dpkg Installed-Size; models fetched on first run");
}
// BENCH_ONLY=start|idle|canvas|typing measures one part (while working on it).
const only = process.env.BENCH_ONLY ?? "";
if (!only || only === "start") await startTimes();
// The baseline first (CODEXOS_BLANK_APP: the blank window's binary).
const blank = process.env.CODEXOS_BLANK_APP ?? "";
if (blank && (!only || only === "canvas" || only === "idle")) await blankWindow(blank);
const browser = await session();
try {
  if (!only || only === "canvas" || only === "idle") await idleAndCanvas(browser);
  if (!only || only === "typing") await typing(browser);
} finally {
  await browser.deleteSession();
}
console.log(JSON.stringify(results));
