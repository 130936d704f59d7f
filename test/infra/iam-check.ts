// The least-privilege rules test/infra applies to every aws_iam_policy_document.
import type { Json } from './hcl.js';
import { sub } from './hcl.js';

/** Actions that do not support resource-level permissions: `*` is their only valid resource. */
export const NO_RESOURCE_LEVEL_ACTIONS = new Set(['ecr:GetAuthorizationToken', 'sts:GetCallerIdentity']);

export interface Violation {
  readonly where: string;
  readonly problem: string;
}

/** Looks up `${local.name}` in the policy's module, so actions kept in a local list are checked too. */
export type LocalResolver = (name: string) => unknown;

function list(v: unknown, locals: LocalResolver): string[] {
  if (typeof v === 'string') {
    const m = /^\$\{local\.([A-Za-z0-9_]+)\}$/.exec(v);
    const resolved = m ? locals(m[1]!) : undefined;
    if (Array.isArray(resolved)) return resolved.map(String);
    return [v];
  }
  if (Array.isArray(v)) return v.map(String);
  return [];
}

/** True for a resource that names no resource at all: `*`, or an ARN whose every part after the service is `*`. */
export function isWildcardResource(r: string): boolean {
  return r === '*' || /^arn:(aws|\$\{[^}]+\}):[a-z0-9-]+:\*?:\*?:\*$/.test(r) || /^arn:aws:[a-z0-9-]+:::\*$/.test(r);
}

export function checkPolicyDocument(where: string, doc: Json, locals: LocalResolver = () => undefined): Violation[] {
  const out: Violation[] = [];
  const dyn = doc['dynamic'];
  const dynamics = (Array.isArray(dyn) ? (dyn as Json[]) : dyn ? [dyn as Json] : []).flatMap((d) => sub(d, 'statement'));
  const statements = [...sub(doc, 'statement'), ...dynamics.flatMap((d) => sub(d, 'content'))];
  statements.forEach((st, i) => {
    const sid = `${where} statement ${String(st['sid'] ?? i)}`;
    const effect = String(st['effect'] ?? 'Allow');
    if (effect !== 'Allow') return; // Deny statements are meant to be broad.
    if ('not_actions' in st || 'not_resources' in st) out.push({ where: sid, problem: 'Allow with not_actions/not_resources grants everything else' });
    const actions = list(st['actions'], locals);
    if (actions.length === 0) out.push({ where: sid, problem: 'no actions listed' });
    for (const a of actions) {
      if (a.includes('*')) out.push({ where: sid, problem: `wildcard action ${a}` });
    }
    const resources = list(st['resources'], locals);
    if (resources.length === 0 && !('principals' in st && actions.every((a) => a.startsWith('sts:')))) {
      out.push({ where: sid, problem: 'no resources listed' });
    }
    for (const r of resources) {
      if (isWildcardResource(r) && !actions.every((a) => NO_RESOURCE_LEVEL_ACTIONS.has(a))) {
        out.push({ where: sid, problem: `resource ${r} for ${actions.join(', ')}, which accept specific ARNs` });
      }
    }
  });
  return out;
}
