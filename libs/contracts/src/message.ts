import { z } from "zod";
import { streamOfType, type StreamKey } from "./subjects.js";

/**
 * The envelope of every message on NATS: id (also the JetStream Nats-Msg-Id), type with its
 * major version, version, occurredAt, correlationId (from the REST call that caused it), data.
 */
export function MessageEnvelope<T extends string, S extends z.ZodType>(type: T, data: S) {
  return z.object({
    id: z.uuid(),
    type: z.literal(type),
    version: z.number().int().min(1),
    occurredAt: z.iso.datetime({ offset: true }),
    correlationId: z.string().min(1).max(200),
    data,
  });
}

export type MessageKind = "event" | "command";
export type ServiceName = "app-svc" | "dev-svc" | "pipeline-engine" | "ops-gateway";
/** Who reads a message: a service, or the gateway's event stream (live events). */
export type ReaderName = ServiceName | "gateway";

export interface MessageDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  type: T;
  version: number;
  kind: MessageKind;
  stream: StreamKey;
  /** Whether the subject carries a last token (per-stage commands). */
  perStage: boolean;
  /** Whether the subject's last token is the team's (live events, `liveTeamToken`). */
  perTeam: boolean;
  data: S;
  envelope: ReturnType<typeof MessageEnvelope<T, S>>;
  /** Who publishes it (a live event may come from more than one service). */
  publisher: ServiceName | readonly ServiceName[];
  consumers: ReaderName[];
  description: string;
}

export function defineMessage<T extends `${string}.v${number}`, S extends z.ZodType>(spec: {
  type: T;
  kind: MessageKind;
  data: S;
  publisher: ServiceName | readonly ServiceName[];
  consumers: ReaderName[];
  description: string;
  perStage?: boolean;
  perTeam?: boolean;
}): MessageDefinition<T, S> {
  const version = Number(/\.v(\d+)$/.exec(spec.type)?.[1]);
  return {
    ...spec,
    version,
    perStage: spec.perStage ?? false,
    perTeam: spec.perTeam ?? false,
    stream: streamOfType(spec.type),
    envelope: MessageEnvelope(spec.type, spec.data),
  };
}

export type MessageData<D extends MessageDefinition> = z.infer<D["data"]>;
export type MessageOf<D extends MessageDefinition> = z.infer<D["envelope"]>;

/** Who did something: the JWT subject and team, or a service acting on its own. */
export const Actor = z.object({ sub: z.string().min(1).max(200), team: z.string().min(1).max(100) });
export type Actor = z.infer<typeof Actor>;

/** A secret sealed with AES-256-GCM under a key id, so keys can rotate. */
export const SealedSecret = z.object({
  keyId: z.string().min(1).max(50),
  ciphertext: z.string().min(1),
});
export type SealedSecret = z.infer<typeof SealedSecret>;
