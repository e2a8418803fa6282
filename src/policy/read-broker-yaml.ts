// broker.yaml → BrokerYaml, or one problem per mistake phrased `file: path.inside: problem`
// (`file:line: problem` for YAML syntax), so an operator can fix them all in one pass.
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type BrokerYaml, brokerYamlSchema } from '../policy-config/broker-yaml.js';

export function readBrokerYaml(
  label: string,
  text: string,
): { config: BrokerYaml | undefined; problems: string[] } {
  const lineCounter = new LineCounter();
  // uniqueKeys (the default) makes a repeated key an error instead of the last one silently winning.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      config: undefined,
      problems: doc.errors.map(
        (e) => `${label}:${lineCounter.linePos(e.pos[0]).line}: ${firstLine(e.message)}`,
      ),
    };
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const parsed = brokerYamlSchema.safeParse(raw);
  if (parsed.success) return { config: parsed.data, problems: [] };
  return {
    config: undefined,
    problems: parsed.error.issues.flatMap((issue) => describeIssue(label, raw, issue)),
  };
}

function describeIssue(label: string, raw: unknown, issue: z.core.$ZodIssue): string[] {
  const path = issue.path.map(String);
  const where = (p: string[]) => (p.length === 0 ? `${label}: ` : `${label}: ${p.join('.')}: `);
  if (issue.code === 'unrecognized_keys')
    return issue.keys.map((key) => `${where([...path, key])}unknown key`);
  if (
    (issue.code === 'invalid_type' || issue.code === 'invalid_union') &&
    valueAt(raw, issue.path) === undefined
  ) {
    return [`${where(path)}is required`];
  }
  return [`${where(path)}${issue.message.replace(/^Invalid input: /, '')}`];
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
