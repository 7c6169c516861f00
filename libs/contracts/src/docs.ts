import { MESSAGES } from "./catalog.js";
import { ErrorCodes } from "./errors.js";
import { RPC, STREAMS, STREAM_MAX_AGE_MS, messageSubject, streamName, type StreamKey } from "./subjects.js";

/**
 * docs/messages.md, rendered from the catalog so the document cannot drift from the code
 * (a test compares the committed file with this output; `pnpm docs:messages` rewrites it).
 */
export function renderMessagesDoc(): string {
  const env = "procode";
  const lines: string[] = [
    "# Messages",
    "",
    "Generated from `libs/contracts/src/catalog.ts` by `pnpm docs:messages`; do not edit by hand.",
    "",
    "Every message is a JSON envelope `{ id, type, version, occurredAt, correlationId, data }`.",
    "`id` is also the JetStream `Nats-Msg-Id`, so a re-published event is dropped as a duplicate within",
    "the stream's two-minute window; consumers are idempotent beyond it (an inbox of processed ids, or",
    "a natural key such as pipeline + stage + attempt). `correlationId` is the id of the REST call that",
    "caused the message and is carried into every log line of every service that handles it.",
    "",
    "Subjects start with the installation's environment name (`ENV_NAME`, default `procode`), so two",
    "installations can share one NATS cluster. Events and commands are written to an outbox table in the",
    "same transaction as the change that caused them and relayed to JetStream.",
    "",
    "## Streams",
    "",
    "| stream | subjects | kept |",
    "|---|---|---|",
    ...(Object.entries(STREAMS) as [StreamKey, string][]).map(
      ([key, seg]) =>
        `| \`${streamName(env, key)}\` | \`${env}.${seg}.>\` | ${STREAM_MAX_AGE_MS[key] / 3600_000} h |`,
    ),
    "",
    "`<TEAM>` is the team's name in base64url (a team may hold characters a subject cannot). Live",
    'events are read only by the gateway\'s `GET /events` (docs/api.md, "Live events").',
    "",
    "## Events and commands",
    "",
    "| type | kind | subject | publisher | consumers | why |",
    "|---|---|---|---|---|---|",
    ...MESSAGES.map(
      (m) =>
        `| \`${m.type}\` | ${m.kind} | \`${messageSubject(env, m.type, m.perStage ? "<STAGE>" : m.perTeam ? "<TEAM>" : undefined)}\` | ${[m.publisher].flat().join(", ")} | ${m.consumers.join(", ")} | ${m.description} |`,
    ),
    "",
    "## Request/reply",
    "",
    "Core NATS request/reply (not persisted), zod-validated both ways, bounded by `RPC_TIMEOUT_MS`; a peer",
    "that does not answer gives the caller a 503 envelope (code 9003), never a hang.",
    "",
    "| subject | caller | answerer | why |",
    "|---|---|---|---|",
    `| \`${env}.${RPC.PROCEED_ITERATION}\` | dev-svc | pipeline-engine | Move an iteration to its next phase; for RELEASE also create (idempotently, per iteration_phase) the phase pipeline and answer its id, which \`POST /iterations/{id}/proceed\` and \`/release\` return at once. |`,
    `| \`${env}.${RPC.CHECK_CREDENTIAL}\` | app-svc | dev-svc | Whether a \`credentialId\` given to \`POST /apps\` or \`PUT /apps/{id}/procode-config\` names a credential of the caller's team for the repository's provider; refused at once as 1001 naming the field when not. |`,
    "",
  ];
  return lines.join("\n");
}

/** docs/errors.md, rendered from the error-code table (same rule as messages.md). */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ErrorCodes).map(
    ([name, e]) => `| ${e.code} | ${e.httpStatus} | \`${name}\` | ${e.meaning} |`,
  );
  return [
    "# Error codes",
    "",
    "Generated from `libs/contracts/src/errors.ts` by `pnpm docs:messages`; do not edit by hand.",
    "",
    "Every REST response is `{ code, message, data }`. Code 0 is success; any other code comes with the",
    "HTTP status below and a message that names the problem (for 1001 the field and the rule, with",
    "`data.fields` listing them). Ranges: 1xxx app and repository, 2xxx iteration, 3xxx pipeline,",
    "4xxx ops/deploy, 5xxx auth/security, 9xxx internal.",
    "",
    "| code | HTTP | name | meaning |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
