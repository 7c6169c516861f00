import { ITERATION_PHASES, PHASE_STAGES } from "@procode/contracts/pipeline-view";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { api, unwrap } from "../api/client";
import type { ConfigUpdate, ProcodeConfig, StageConfig } from "../api/types";
import { ErrorNote } from "../ui/feedback";

type Stage = (typeof PHASE_STAGES)[number];
type Change = Pick<ConfigUpdate, "stageConfigs" | "phases" | "concurrency">;

/**
 * One setting that saves on its own: the change goes to the API at once and its answer (saved, or
 * the error envelope) shows beside the field.
 */
function useSetting(appId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (change: Change) =>
      unwrap(
        api.PUT("/apps/{id}/procode-config", {
          params: { path: { id: appId } },
          // Only the field that changed: the API keeps what is left out and merges stage settings
          // per stage and field.
          body: change,
        }),
      ),
    onSuccess: (saved) => {
      client.setQueryData(["app", appId], (old: { procodeConfig: ProcodeConfig } | undefined) =>
        old ? { ...old, procodeConfig: saved } : old,
      );
    },
  });
}

function Field({
  label,
  appId,
  children,
}: {
  label: string;
  appId: number;
  children: (save: (change: Change) => void, pending: boolean) => ReactNode;
}) {
  const setting = useSetting(appId);
  return (
    <div className="setting">
      <span className="setting-label">{label}</span>
      {children((change) => setting.mutate(change), setting.isPending)}
      <span className="setting-state" aria-live="polite">
        {setting.isPending ? "saving…" : setting.isSuccess ? "✔ saved" : null}
      </span>
      {setting.isError ? <ErrorNote error={setting.error} /> : null}
    </div>
  );
}

/** A change of one field of one stage's settings. */
function stageField(stage: Stage, field: keyof StageConfig, value: unknown): Change {
  return { stageConfigs: { [stage]: { [field]: value } } };
}

function NumberInput({
  value,
  min,
  max,
  label,
  onSave,
}: {
  value: number;
  min: number;
  max: number;
  label: string;
  onSave: (n: number) => void;
}) {
  const [text, setText] = useState(String(value));
  const commit = () => {
    const n = Number(text);
    if (text.trim() !== "" && Number.isInteger(n) && n !== value) onSave(n);
  };
  return (
    <input
      type="number"
      inputMode="numeric"
      aria-label={label}
      min={min}
      max={max}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") commit();
      }}
    />
  );
}

/** AUTO or MANUAL, for a stage's drive or retry. */
function ModeSelect(props: { label: string; value: string; disabled: boolean; onSave: (v: string) => void }) {
  return (
    <select
      aria-label={props.label}
      value={props.value}
      disabled={props.disabled}
      onChange={(e) => props.onSave(e.target.value)}
    >
      <option value="AUTO">AUTO</option>
      <option value="MANUAL">MANUAL</option>
    </select>
  );
}

export function StageSettings({ appId, config }: { appId: number; config: ProcodeConfig }) {
  const effective = config.effectiveStageConfigs;
  return (
    <section className="card span-2" aria-labelledby="settings-title">
      <h2 id="settings-title">Stage settings</h2>
      <p className="muted">
        Each change is saved at once and applies to releases started after it. A MANUAL drive waits for a
        person to proceed; MANUAL retry waits for a person to retry.
      </p>
      <div className="stage-settings">
        {PHASE_STAGES.map((stage) => {
          const cfg = effective[stage];
          const overridden = Object.keys(config.stageConfigs[stage] ?? {}).length > 0;
          return (
            <fieldset key={stage} className="stage-setting" data-stage={stage}>
              <legend>
                {stage} {overridden ? <span className="badge">changed</span> : null}
              </legend>
              <Field label="Drive" appId={appId}>
                {(save, pending) =>
                  stage === "DEPLOY" ? (
                    <span className="mono" title="DEPLOY is finished by the ops module and stays ASYNC">
                      ASYNC
                    </span>
                  ) : (
                    <ModeSelect
                      label={`${stage} drive mode`}
                      value={cfg.driveMode}
                      disabled={pending}
                      onSave={(v) => save(stageField(stage, "driveMode", v))}
                    />
                  )
                }
              </Field>
              <Field label="Retry" appId={appId}>
                {(save, pending) => (
                  <ModeSelect
                    label={`${stage} retry mode`}
                    value={cfg.retryMode}
                    disabled={pending}
                    onSave={(v) => save(stageField(stage, "retryMode", v))}
                  />
                )}
              </Field>
              <Field label="Max retries" appId={appId}>
                {(save) => (
                  <NumberInput
                    label={`${stage} max retries`}
                    value={cfg.maxRetries}
                    min={0}
                    max={20}
                    onSave={(n) => save(stageField(stage, "maxRetries", n))}
                  />
                )}
              </Field>
              {stage === "QUALITY_GATE" ? (
                <Field label="Runs" appId={appId}>
                  {(save, pending) => (
                    <select
                      aria-label="QUALITY_GATE runs"
                      value={cfg.enabled === undefined ? "evals" : cfg.enabled ? "always" : "never"}
                      disabled={pending}
                      title="The agent quality gate: the agent's unit tests and evaluation cases, in a sandbox, before DEPLOY"
                      onChange={(e) =>
                        save(
                          stageField(
                            stage,
                            "enabled",
                            e.target.value === "evals" ? null : e.target.value === "always",
                          ),
                        )
                      }
                    >
                      <option value="evals">when the commit has evals/</option>
                      <option value="always">always</option>
                      <option value="never">never</option>
                    </select>
                  )}
                </Field>
              ) : null}
              {stage === "DEPLOY" ? (
                <>
                  <Field label="Poll every (s)" appId={appId}>
                    {(save) => (
                      <NumberInput
                        label="DEPLOY poll interval in seconds"
                        value={cfg.pollInterval ?? 30}
                        min={1}
                        max={3600}
                        onSave={(n) => save(stageField(stage, "pollInterval", n))}
                      />
                    )}
                  </Field>
                  <Field label="Time out after (s)" appId={appId}>
                    {(save) => (
                      <NumberInput
                        label="DEPLOY timeout in seconds"
                        value={cfg.pollTimeout ?? 1800}
                        min={1}
                        max={604800}
                        onSave={(n) => save(stageField(stage, "pollTimeout", n))}
                      />
                    )}
                  </Field>
                </>
              ) : null}
            </fieldset>
          );
        })}
      </div>
      <div className="settings-row">
        <Field label="Iteration phases" appId={appId}>
          {(save, pending) => (
            <span className="checks">
              {ITERATION_PHASES.map((phase) => {
                const on = config.phases.includes(phase);
                const fixed = phase === "DEVELOPING" || phase === "RELEASE";
                return (
                  <label
                    key={phase}
                    className="check"
                    title={fixed ? `${phase} is always a phase` : undefined}
                  >
                    <input
                      type="checkbox"
                      checked={on || fixed}
                      disabled={fixed || pending}
                      onChange={(e) =>
                        save({
                          phases: ITERATION_PHASES.filter((p) =>
                            p === phase ? e.target.checked : config.phases.includes(p) || p === "RELEASE",
                          ),
                        })
                      }
                    />{" "}
                    {phase}
                  </label>
                );
              })}
            </span>
          )}
        </Field>
        <Field label="A second release while one runs" appId={appId}>
          {(save, pending) => (
            <select
              aria-label="Concurrency"
              value={config.concurrency}
              disabled={pending}
              onChange={(e) => save({ concurrency: e.target.value as ProcodeConfig["concurrency"] })}
            >
              <option value="QUEUE">waits its turn (QUEUE)</option>
              <option value="REJECT">is refused (REJECT)</option>
            </select>
          )}
        </Field>
      </div>
    </section>
  );
}
