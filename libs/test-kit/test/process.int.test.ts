import { afterEach, describe, expect, it } from "vitest";
import { ServiceProcess } from "../src/process.js";

/**
 * A process the test did not stop or kill, and that ended, is told apart from one the test brought
 * down, and stopping it fails (docs/testing.md, "A process that ends on its own fails the test").
 * The reference ops module stands in for any process of the platform: it is the lightest to start.
 */

const started: ServiceProcess[] = [];

const startOpsModule = async () => {
  const proc = await ServiceProcess.start({
    name: "ops-module",
    dir: "tools/ops-module",
    env: {
      PORT: "0",
      HOST: "127.0.0.1",
      CALLBACK_URL: "http://127.0.0.1:9/deploy/callback",
      CALLBACK_SECRET: "process-test-secret",
    },
    ready: /ops module listening/,
  });
  started.push(proc);
  return proc;
};

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill()));
});

describe("ServiceProcess", () => {
  it("counts a process killed from outside as ended on its own, with how it ended", async () => {
    const proc = await startOpsModule();
    expect(proc.endedOnItsOwn).toBeUndefined();
    process.kill(proc.pid!, "SIGKILL");
    await new Promise((resolve) => proc.proc.once("exit", resolve));
    expect(proc.running).toBe(false);
    expect(proc.endedOnItsOwn).toBe("SIGKILL");
    await expect(proc.stop()).rejects.toThrow(/ops-module ended on its own \(SIGKILL\)/);
  });

  it("does not count a process the test stopped or killed through it", async () => {
    const stopped = await startOpsModule();
    const killed = await startOpsModule();
    await Promise.all([stopped.stop(), killed.kill()]);
    expect([stopped.running, killed.running]).toEqual([false, false]);
    expect([stopped.endedOnItsOwn, killed.endedOnItsOwn]).toEqual([undefined, undefined]);
    // Stopping again is quiet.
    await expect(Promise.all([stopped.stop(), killed.stop()])).resolves.toBeDefined();
  });
});
