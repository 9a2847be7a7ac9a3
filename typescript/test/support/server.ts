/**
 * The real Python server, started as a subprocess for each suite
 * (`tests/crosslang/serve_for_tests.py`, `.venv/bin/python`). Every process started here is
 * killed by pid in `killAll()` (call it from `after`), and on exit of the test process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SCRIPT = join("tests", "crosslang", "serve_for_tests.py");
const READY_TIMEOUT_MS = 30_000;

/** The repository root: the nearest ancestor of this file that holds the serve script. */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, SCRIPT))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${SCRIPT} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
})();

export interface ServerOptions {
  /** Reuse a data directory (e.g. to restart on the same store). Default: a new temp dir. */
  dataDir?: string;
  /** Port to bind. Default 0: a free one. */
  port?: number;
  tools?: "demo";
  token?: string;
  /** PEM certificate and key files: serve TLS. */
  tls?: { certFile: string; keyFile: string };
  heartbeatIntervalMs?: number;
}

export class ServerProcess {
  constructor(
    readonly child: ChildProcess,
    readonly address: string,
    readonly dataDir: string,
    private readonly exited: Promise<void>,
  ) {}

  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(":") + 1));
  }

  /** SIGKILL, as a crash would, and wait for the process to be gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

const started = new Set<ServerProcess>();
const tempDirs: string[] = [];

function killStarted(): void {
  for (const server of started) {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
  }
}

// Last resort, should a suite end without its `after` hook: never leave a server behind.
process.on("exit", killStarted);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killStarted();
    process.exit(1);
  });
}

/** Start a server; resolves once it prints `ADDRESS host:port`. */
export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "aworld-ts-"));
  if (options.dataDir === undefined) tempDirs.push(dataDir);
  const args = [join(REPO_ROOT, SCRIPT), "--data-dir", dataDir, "--port", String(options.port ?? 0)];
  if (options.tools) args.push("--tools", options.tools);
  if (options.token) args.push("--token", options.token);
  if (options.tls) args.push("--tls-cert", options.tls.certFile, "--tls-key", options.tls.keyFile);
  if (options.heartbeatIntervalMs) args.push("--heartbeat-interval-ms", String(options.heartbeatIntervalMs));
  const child = spawn(join(REPO_ROOT, ".venv", "bin", "python"), args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    stderr = (stderr + text).slice(-8000);
  });
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => fail(new Error(`the server did not start within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\n--- server stderr ---\n${stderr}`));
    };
    lines.on("line", (line) => {
      const match = /^ADDRESS (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once("exit", (code, signal) =>
      fail(new Error(`the server exited (code ${code}, signal ${signal})`)),
    );
    child.once("error", fail);
  });
  const server = new ServerProcess(child, address, dataDir, exited);
  started.add(server);
  return server;
}

/** Kill every server this process started and remove their temp dirs. */
export async function killAll(): Promise<void> {
  await Promise.all([...started].map((server) => server.kill()));
  started.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Poll `check` until it returns a value other than undefined/false, or fail at the deadline. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `promise`, or a rejection naming `what` if it takes longer than `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise with its resolve function, for signals from inside handlers. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
