import { useMutation } from "@tanstack/react-query";
import { useId, type ReactNode } from "react";
import { ErrorNote } from "./feedback";

/**
 * A button for an API action. When the API would refuse the action now it stays visible but
 * disabled (aria-disabled, so it can still be focused) with the reason in its tooltip. The action's
 * result, or the error envelope's code and message, shows next to the button and stays there.
 */
export function ActionButton({
  label,
  disabledReason,
  run,
  tone = "default",
  testId,
}: {
  label: string;
  /** Why the API would refuse the action now; null when it would accept it. */
  disabledReason: string | null;
  /** Performs the action; resolves to what to say about its result. */
  run: () => Promise<ReactNode>;
  tone?: "default" | "primary" | "danger";
  testId?: string;
}) {
  const tip = useId();
  const mutation = useMutation({ mutationFn: run });
  const disabled = disabledReason !== null || mutation.isPending;
  return (
    <span className="action">
      <span className="tooltip-host">
        <button
          type="button"
          className={`button button-${tone}`}
          aria-disabled={disabled}
          aria-describedby={disabledReason ? tip : undefined}
          data-testid={testId}
          onClick={() => {
            if (!disabled) mutation.mutate();
          }}
        >
          {mutation.isPending ? `${label}…` : label}
        </button>
        {disabledReason ? (
          <span role="tooltip" id={tip} className="tooltip">
            {disabledReason}
          </span>
        ) : null}
      </span>
      <span className="action-result" aria-live="polite">
        {mutation.isSuccess ? <span className="note note-ok">{mutation.data}</span> : null}
        {mutation.isError ? <ErrorNote error={mutation.error} /> : null}
      </span>
    </span>
  );
}
