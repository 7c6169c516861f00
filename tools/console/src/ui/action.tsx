import { useMutation } from "@tanstack/react-query";
import { useId, type ReactNode } from "react";
import { ErrorNote } from "./feedback";

/**
 * A button that may be refused: disabled (aria-disabled, so it can still be focused and read) with
 * the reason in a tooltip shown on hover and on focus.
 */
export function ReasonButton({
  label,
  disabledReason,
  busy = false,
  onPress,
  className,
  testId,
}: {
  label: string;
  disabledReason: string | null;
  busy?: boolean;
  onPress: () => void;
  className: string;
  testId?: string;
}) {
  const tip = useId();
  const disabled = disabledReason !== null || busy;
  return (
    <span className="tooltip-host">
      <button
        type="button"
        className={className}
        aria-disabled={disabled}
        aria-describedby={disabledReason ? tip : undefined}
        data-testid={testId}
        onClick={() => {
          if (!disabled) onPress();
        }}
      >
        {label}
      </button>
      {disabledReason ? (
        <span role="tooltip" id={tip} className="tooltip">
          {disabledReason}
        </span>
      ) : null}
    </span>
  );
}

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
  const mutation = useMutation({ mutationFn: run });
  return (
    <span className="action">
      <ReasonButton
        label={mutation.isPending ? `${label}…` : label}
        className={`button button-${tone}`}
        disabledReason={disabledReason}
        busy={mutation.isPending}
        onPress={() => mutation.mutate()}
        testId={testId}
      />
      <span className="action-result" aria-live="polite">
        {mutation.isSuccess ? <span className="note note-ok">{mutation.data}</span> : null}
        {mutation.isError ? <ErrorNote error={mutation.error} /> : null}
      </span>
    </span>
  );
}
