/**
 * A zero-delay stage runner for benchmarks: a real NATS consumer that answers every stage request
 * at once: `stage.completed.v1` (SUCCESS with a valid output) for CODE_CHECK, BUILD and PACKAGE.
 * DEPLOY is left to the real ops-gateway (it consumes the same requests) unless RUNNER_DEPLOYS=1:
 * then the runner plays ops-gateway and answers `ops.deployment_started.v1` +
 * `ops.deployment_finished.v1` itself; with HOLD_DEPLOY=1 as well, a deployment is only started
 * (pipelines stay in DEPLOYING).
 *   NATS_URL=... ENV_NAME=... [RUNNER_DEPLOYS=1] [HOLD_DEPLOY=1] tsx pipelines/runner.ts
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { publishEvent } from "./lib.js";
import {
  DeploymentFinished,
  DeploymentStarted,
  messageSubject,
  StageCompleted,
  StageRequested,
  streamName,
  type MessageDefinition,
} from "@procode/contracts";

const env = process.env["ENV_NAME"] ?? "procode";
const runnerDeploys = process.env["RUNNER_DEPLOYS"] === "1";
const holdDeploy = process.env["HOLD_DEPLOY"] === "1";
const nc = await connect({
  servers: process.env["NATS_URL"] ?? "nats://127.0.0.1:4222",
  name: "bench-runner",
});
const js = jetstream(nc, { timeout: 10000 });
const jsm = await jetstreamManager(nc);
const stream = streamName(env, "STAGE");
const durable = "bench-runner";
await jsm.consumers.add(stream, {
  durable_name: durable,
  filter_subject: messageSubject(env, StageRequested.type, "*"),
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  max_ack_pending: 5000,
});
const consumer = await js.consumers.get(stream, durable);
const messages = await consumer.consume({ max_messages: 1000 });

const OUTPUTS = {
  CODE_CHECK: {
    commitId: "0123456789abcdef",
    checks: [{ name: "requirements", passed: true, message: "ok" }],
  },
  BUILD: { dockerfile: 'FROM python:3.12-slim\nCOPY . /app\nCMD ["python", "main.py"]\n' },
  PACKAGE: { image: "registry.local/bench:v1.0.0" },
} as const;

const publish = (def: MessageDefinition, data: unknown) => publishEvent(js, env, def, data);

let answered = 0;
process.on("SIGTERM", () => {
  void messages
    .close()
    .then(() => nc.drain())
    .then(() => process.exit(0));
});
setInterval(() => process.stdout.write(`${JSON.stringify({ answered })}\n`), 5000).unref();

for await (const m of messages) {
  let req: { pipelineId: number; stage: keyof typeof OUTPUTS | "DEPLOY"; attempt: number };
  try {
    req = m.json<{ data: typeof req }>().data;
  } catch {
    m.term();
    continue;
  }
  if (req.stage === "DEPLOY" && !runnerDeploys) {
    m.ack(); // ops-gateway's
    continue;
  }
  const now = new Date().toISOString();
  const work =
    req.stage === "DEPLOY"
      ? (async () => {
          const deployId = `deploy-${req.pipelineId}-${req.attempt}`;
          await publish(DeploymentStarted, {
            pipelineId: req.pipelineId,
            attempt: req.attempt,
            deployId,
            deadline: new Date(Date.now() + 1800_000).toISOString(),
          });
          if (holdDeploy) return;
          await publish(DeploymentFinished, {
            pipelineId: req.pipelineId,
            attempt: req.attempt,
            deployId,
            outcome: "SUCCESS",
            message: "deployed",
            via: "CALLBACK",
            finishedAt: now,
          });
        })()
      : publish(StageCompleted, {
          pipelineId: req.pipelineId,
          stage: req.stage,
          attempt: req.attempt,
          outcome: "SUCCESS",
          output: OUTPUTS[req.stage],
          error: null,
          startedAt: now,
          finishedAt: now,
        });
  work.then(
    () => {
      answered++;
      m.ack();
    },
    () => m.nak(500),
  );
}
