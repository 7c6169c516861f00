import { useEffect, useRef } from "react";

/**
 * Performance marks the console leaves in the page (the budgets bench reads them; any real-user
 * monitoring could): when a view is first painted with its data, and when a stage shows a new state.
 */
export function usePaintedMark(name: string, ready: boolean): void {
  const done = useRef(false);
  useEffect(() => {
    if (!ready || done.current) return;
    done.current = true;
    requestAnimationFrame(() => performance.mark(name));
  }, [name, ready]);
}

/** Marks `stage:<pipeline>:<stage>:<state>` each time a stage's state changes on screen. */
export function useStateMarks(pipelineId: number, states: Record<string, string>): void {
  const seen = useRef<Record<string, string>>({});
  useEffect(() => {
    for (const [stage, state] of Object.entries(states)) {
      if (seen.current[stage] === state) continue;
      seen.current[stage] = state;
      requestAnimationFrame(() => performance.mark(`stage:${pipelineId}:${stage}:${state}`));
    }
  });
}
