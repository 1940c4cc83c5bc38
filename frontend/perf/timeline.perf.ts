// A long session, measured: a room of 10,000 messages; the reader scrolls
// back 5,000, jumps to the present, then 200 messages arrive in 2 s. Prints
// each figure and fails when one is over its threshold (docs/client.md).

import { apiRegister, apiRoomId, expect, test } from "../e2e/fixtures";

const total = Number(process.env.PERF_MESSAGES ?? 10_000);
const back = Number(process.env.PERF_BACK ?? 5_000);
const burst = 200;

test("a long session stays instant", async ({ server, signUp }) => {
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  const post = (text: string) =>
    fetch(`${server.url}/api/rooms/${room}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${carol.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    }).then((r) => expect(r.status).toBe(201));
  // Seed (8 at a time; the order of seeds does not matter here).
  const seedStart = Date.now();
  let next = 1;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next <= total) await post(`old ${next++} ${"lorem ipsum dolor sit amet ".repeat(2)}`);
    }),
  );
  console.log(`seeded ${total} messages in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

  const page = await signUp("alice");
  // When each live message reaches the page (its socket frame), before the
  // app sees it: the clock of "on screen within 100 ms of arriving".
  await page.context().addInitScript(() => {
    const Orig = WebSocket;
    const arrived: Record<string, number> = {};
    (window as unknown as { arrived: Record<string, number> }).arrived = arrived;
    window.WebSocket = class extends Orig {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener("message", (e) => {
          const now = performance.now();
          for (const m of String(e.data).matchAll(/"text":"live (\d+)"/g)) arrived[m[1]!] ??= now;
        });
      }
    };
  });
  await page.reload();
  await expect(page.getByRole("textbox", { name: "Message #general" })).toBeVisible();
  // Watchers in the page: long tasks, element count, heap, and when each
  // live message is on screen.
  await page.evaluate(() => {
    const w = window as unknown as { perf: { longTasks: number[]; maxElements: number; maxHeap: number; seen: Record<string, number> } };
    w.perf = { longTasks: [], maxElements: 0, maxHeap: 0, seen: {} };
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.perf.longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: false });
    const sample = (): void => {
      w.perf.maxElements = Math.max(w.perf.maxElements, document.getElementsByTagName("*").length);
      const mem = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
      if (mem) w.perf.maxHeap = Math.max(w.perf.maxHeap, mem.usedJSHeapSize);
    };
    setInterval(sample, 250);
    new MutationObserver((records) => {
      const now = performance.now();
      for (const r of records)
        for (const n of Array.from(r.addedNodes)) {
          const text = (n as HTMLElement).textContent ?? "";
          const m = /live (\d+)/.exec(text);
          if (m && !(m[1]! in w.perf.seen)) w.perf.seen[m[1]!] = now;
        }
    }).observe(document.body, { childList: true, subtree: true });
  });
  const log = page.getByRole("log", { name: "Messages in #general" });

  // Scroll back `back` messages.
  const scrollStart = Date.now();
  const target = `old ${total - back} `;
  let tries = 0;
  for (;;) {
    await log.evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
    if ((await log.locator(".text", { hasText: target }).count()) > 0) break;
    await page.waitForTimeout(20);
    if (++tries > 20_000) throw new Error("never reached " + target);
  }
  const scrollMs = Date.now() - scrollStart;
  const afterScroll = await page.evaluate(() => ({
    elements: document.getElementsByTagName("*").length,
    listeners: 0,
  }));

  await page.getByRole("button", { name: "Jump to present" }).click();
  await expect(log.getByText(/old \d+ lorem/).last()).toBeVisible();
  await page.evaluate(() => ((window as unknown as { perf: { longTasks: number[] } }).perf.longTasks = []));

  const profiler = process.env.PERF_PROFILE ? await page.context().newCDPSession(page) : null;
  if (profiler) {
    await profiler.send("Profiler.enable");
    await profiler.send("Profiler.start");
  }

  // PERF_TRACE=1: where the renderer's main thread spent the burst (a Chrome
  // trace over CDP, summed by event name: style, layout, paint, script).
  const tracer = process.env.PERF_TRACE ? await page.context().newCDPSession(page) : null;
  const traced: { name: string; ph: string; ts?: number; dur?: number; tid: number; pid: number; args?: { elementCount?: number; beginData?: { dirtyObjects?: number; stackTrace?: unknown } } }[] = [];
  if (tracer) {
    tracer.on("Tracing.dataCollected", (e) => void traced.push(...(e.value as unknown as typeof traced)));
    await tracer.send("Tracing.start", { categories: "toplevel,devtools.timeline,blink", transferMode: "ReportEvents" });
  }

  // 200 messages in 2 s.
  const sent: number[] = [];
  const sends: Promise<void>[] = [];
  const t0 = Date.now();
  for (let i = 0; i < burst; i++) {
    const due = t0 + (i * 2000) / burst;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent[i] = Date.now();
    sends.push(post(`live ${i}`));
  }
  await Promise.all(sends);
  await expect(log.getByText(`live ${burst - 1}`, { exact: true })).toBeVisible();
  if (profiler) {
    // The functions that took the most time of their own during the burst.
    const { profile } = (await profiler.send("Profiler.stop")) as {
      profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[]; samples?: number[]; timeDeltas?: number[] };
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    (profile.samples ?? []).forEach((id, i) => {
      const f = byId.get(id)!.callFrame;
      const k = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber}`;
      self.set(k, (self.get(k) ?? 0) + (profile.timeDeltas?.[i] ?? 0) / 1000);
    });
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
    console.log("self time (ms):\n" + top.map(([k, v]) => `${v.toFixed(1).padStart(8)}  ${k}`).join("\n"));
  }
  if (tracer) {
    const done = new Promise((r) => tracer.once("Tracing.tracingComplete", r));
    await tracer.send("Tracing.end");
    await done;
    // The renderer's main thread: the thread of the most style and layout time.
    const threads = new Map<string, number>();
    for (const e of traced) if ((e.name === "Layout" || e.name === "UpdateLayoutTree" || e.name === "FunctionCall") && e.dur) threads.set(`${e.pid}:${e.tid}`, (threads.get(`${e.pid}:${e.tid}`) ?? 0) + e.dur);
    const main = [...threads].sort((a, b) => b[1] - a[1])[0]?.[0];
    const byName = new Map<string, number>();
    for (const e of traced) if (e.ph === "X" && e.dur && `${e.pid}:${e.tid}` === main) byName.set(e.name, (byName.get(e.name) ?? 0) + e.dur / 1000);
    const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 20);
    console.log("main thread during the burst (ms, nested events overlap):\n" + top.map(([k, v]) => `${v.toFixed(1).padStart(8)}  ${k}`).join("\n"));
    // Style recalculations and layouts: how many, how much they touched,
    // and how long the ones run inside script took (forced by a layout read
    // in a frame callback, an event handler or a timer) against those of
    // the frame's own lifecycle.
    const onMain = traced.filter((e) => `${e.pid}:${e.tid}` === main && e.ph === "X" && e.dur !== undefined);
    const scripts = onMain.filter((e) => ["FunctionCall", "FireAnimationFrame", "EventDispatch", "TimerFire", "RunMicrotasks"].includes(e.name)).map((e) => [e.ts!, e.ts! + e.dur!] as const);
    const inScript = (e: (typeof onMain)[number]) => scripts.some(([a, b]) => e.ts! >= a && e.ts! + e.dur! <= b);
    const work = onMain.filter((e) => e.name === "UpdateLayoutTree" || e.name === "Layout" || e.name === "Document::UpdateStyleAndLayout");
    const forced = work.filter(inScript);
    const ms = (xs: typeof work) => (xs.reduce((a, e) => a + e.dur!, 0) / 1000).toFixed(1);
    const styles = work.filter((e) => e.name === "UpdateLayoutTree");
    // What asked for each style and layout update run outside the frame's
    // lifecycle: the innermost enclosing event that is not style or layout.
    const askers = new Map<string, number>();
    for (const e of onMain.filter((x) => x.name === "Document::UpdateStyleAndLayout")) {
      const outer = onMain
        .filter((x) => x !== e && x.ts! <= e.ts! && x.ts! + x.dur! >= e.ts! + e.dur! && !/StyleAndLayout|UpdateLayoutTree|^Layout$|^Blink\./.test(x.name))
        .sort((a, b) => a.dur! - b.dur!)[0];
      const d = (outer?.args as { data?: { functionName?: string; url?: string; type?: string } } | undefined)?.data;
      const k = `${outer?.name ?? "(top)"}${d?.type ? ` ${d.type}` : ""}${d?.functionName ? ` ${d.functionName}` : ""}${d?.url ? ` ${d.url.split("/").pop()}` : ""}`;
      askers.set(k, (askers.get(k) ?? 0) + e.dur! / 1000);
    }
    console.log("Document::UpdateStyleAndLayout by caller (ms):\n" + [...askers].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `${v.toFixed(1).padStart(8)}  ${k}`).join("\n"));
    console.log(
      `style recalculations: ${styles.length}, ${styles.reduce((a, e) => a + (e.args?.elementCount ?? 0), 0)} elements in all; ` +
        `layouts: ${work.filter((e) => e.name === "Layout").length}; style and layout ${ms(work)} ms in all, ` +
        `${ms(forced)} ms of it (${forced.length} of ${work.length}) forced inside script`,
    );
  }
  const perf = await page.evaluate(() => (window as unknown as { perf: { longTasks: number[]; maxElements: number; maxHeap: number; seen: Record<string, number> } }).perf);
  const arrived = await page.evaluate(() => (window as unknown as { arrived: Record<string, number> }).arrived);
  const lat = sent.map((_, i) => (perf.seen[String(i)] ?? Infinity) - (arrived[String(i)] ?? -Infinity)).sort((a, b) => a - b);
  const pct = (p: number) => Math.round(lat[Math.min(lat.length - 1, Math.floor((lat.length * p) / 100))]!);
  // The heap as it stays: after a collection (the sampled maximum includes garbage).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = (await cdp.send("Runtime.getHeapUsage")) as { usedSize: number };
  const longest = Math.max(0, ...perf.longTasks);
  const figures = {
    messages: total,
    scrolledBack: back,
    scrollBackSeconds: +(scrollMs / 1000).toFixed(1),
    elementsAfterScrollBack: afterScroll.elements,
    maxElements: perf.maxElements,
    maxHeapMB: +(perf.maxHeap / 1e6).toFixed(1),
    heapAfterGCMB: +(heap.usedSize / 1e6).toFixed(1),
    arrivalP50ms: pct(50),
    arrivalP95ms: pct(95),
    arrivalMaxms: Math.round(lat[lat.length - 1]!),
    longTasksDuringBurst: perf.longTasks.length,
    longestTaskMs: Math.round(longest),
  };
  console.log("perf figures: " + JSON.stringify(figures, null, 2));
  expect(figures.arrivalP95ms, "p95 arrival-to-screen, ms").toBeLessThanOrEqual(100);
  expect(figures.longestTaskMs, "longest task during the burst, ms").toBeLessThanOrEqual(50);
  expect(figures.maxElements, "DOM elements").toBeLessThan(5000);
  expect(figures.heapAfterGCMB, "JS heap after a collection, MB").toBeLessThan(30);
});
