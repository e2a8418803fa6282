// The task intent a workload declares: what it is doing and what it needs. Bounded so a hostile
// body cannot make policy evaluation or a provider call expensive.
import { z } from 'zod';

const printable = /^[^\p{Cc}]*$/u;

export const intentSchema = z.strictObject({
  task_id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\w.:@/+=-]+$/, 'letters, digits and _ . : @ / + = -'),
  purpose: z.string().min(1).max(512).regex(printable, 'must not contain control characters'),
  actions: z
    .array(z.string().min(1).max(256).regex(printable, 'must not contain control characters'))
    .min(1)
    .max(64),
  resources: z
    .array(z.string().min(1).max(2048).regex(printable, 'must not contain control characters'))
    .max(64)
    .default([]),
});

export type IntentInput = z.input<typeof intentSchema>;

export interface Intent {
  taskId: string;
  purpose: string;
  actions: string[];
  resources: string[];
}

export function toIntent(parsed: z.output<typeof intentSchema>): Intent {
  // Duplicates carry no meaning and would only inflate grants and session policies.
  return {
    taskId: parsed.task_id,
    purpose: parsed.purpose,
    actions: [...new Set(parsed.actions)],
    resources: [...new Set(parsed.resources)],
  };
}

/** The intent as the API, the audit log and Cedar's context spell it. */
export interface IntentWire {
  task_id: string;
  purpose: string;
  actions: string[];
  resources: string[];
}

export function toIntentWire(intent: Intent): IntentWire {
  return {
    task_id: intent.taskId,
    purpose: intent.purpose,
    actions: intent.actions,
    resources: intent.resources,
  };
}
