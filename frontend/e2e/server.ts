// Runs the real minichat binary for a test: a random free port, a fresh data
// directory, and kill/restart on the same port and directory.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServerOptions {
  heartbeat?: string;
  /** More flags for the binary. */
  args?: string[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class Server {
  private proc: ChildProcess | null = null;
  private log = "";

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly opts: ServerOptions,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(opts: ServerOptions = {}): Promise<Server> {
    const s = new Server(await freePort(), mkdtempSync(join(tmpdir(), "minichat-data-")), opts);
    await s.launch();
    return s;
  }

  /** Starts the binary (again) and waits until /healthz answers. */
  async launch(): Promise<void> {
    const bin = process.env.MINICHAT_BIN;
    if (!bin) throw new Error("MINICHAT_BIN is not set: run through playwright test (global setup builds it)");
    const args = [
      "--addr", `127.0.0.1:${this.port}`,
      "--data-dir", this.dataDir,
      "--heartbeat", this.opts.heartbeat ?? "2s",
      "--rate", "1000",
      "--burst", "1000",
      // Tests seed rooms over the REST API faster than a person would post.
      "--api-rate", "1000",
      "--api-burst", "1000",
      // Tests sign several people up straight away and make rooms quickly;
      // those about invitations pass "--registration", "invite" in args.
      "--registration", "open",
      "--create-room-rate", "-1",
      "--join-rate", "-1",
      "--invite-rate", "-1",
      "--dm-rate", "-1",
      "--log-level", "warn",
      // Tests never reach the internet: the link previews' spec turns them on
      // for pages it serves on loopback.
      "--link-previews=false",
      ...(this.opts.args ?? []),
    ];
    const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout?.on("data", (b: Buffer) => (this.log += b.toString()));
    proc.stderr?.on("data", (b: Buffer) => (this.log += b.toString()));
    this.proc = proc;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`minichat exited with ${proc.exitCode}:\n${this.log}`);
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`minichat did not become healthy on ${this.url}:\n${this.log}`);
  }

  /** SIGKILL, as a crash: no shutdown, no close frames. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGKILL");
    p.kill("SIGCONT"); // a paused process dies only once it runs
    await exited;
  }

  /** SIGSTOP: the process freezes, its sockets stay open and silent. */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  /** SIGCONT after pause. */
  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  /**
   * Runs the binary on another port over this server's data directory while
   * this one is down, for fn: clients of this address cannot reach it, so
   * whatever fn does there waits for them as if done while they were away.
   */
  async aside<T>(fn: (url: string) => Promise<T>): Promise<T> {
    if (this.proc) throw new Error("aside needs this server down (kill it first)");
    const other = new Server(await freePort(), this.dataDir, this.opts);
    await other.launch();
    try {
      return await fn(other.url);
    } finally {
      await other.kill();
    }
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  output(): string {
    return this.log;
  }
}
