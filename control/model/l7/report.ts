/**
 * Per-object outcome of the L7 compilation: the problems found (each with the condition type and
 * reason it sets, the field and what to fix) and the conditions the status writer puts on the
 * object. A condition is False when an error of its type was found; warnings leave it True and
 * are added to its message.
 */
import type { Meta } from '../objects.js';
import type { Condition, L7ObjectStatus, L7Problem, ParentRefModel } from './types.js';

export interface ConditionSpec {
  type: string;
  /** Reason and message when nothing is wrong. */
  okReason: string;
  okMessage: string;
}

export class ObjectReport {
  readonly problems: L7Problem[] = [];
  readonly warnings: L7Problem[] = [];
  parentRefs?: ParentRefModel[];
  readonly id: string;

  constructor(
    readonly kind: string,
    readonly meta: Meta,
    private readonly specs: ConditionSpec[],
  ) {
    this.id = `${kind} ${meta.namespace}/${meta.name}`;
  }

  private make(condition: string, reason: string, field: string, message: string): L7Problem {
    return { object: this.id, kind: this.kind, namespace: this.meta.namespace, name: this.meta.name, condition, reason, field, message };
  }

  error(condition: string, reason: string, field: string, message: string): void {
    this.problems.push(this.make(condition, reason, field, message));
  }

  warn(condition: string, reason: string, field: string, message: string): void {
    this.warnings.push(this.make(condition, reason, field, message));
  }

  /** Replaces the success message of a condition (e.g. to say which waypoint enforces it). */
  setOk(type: string, reason: string, message: string): void {
    const s = this.specs.find((x) => x.type === type);
    if (s) Object.assign(s, { okReason: reason, okMessage: message });
  }

  hasErrors(type?: string): boolean {
    return this.problems.some((p) => type === undefined || p.condition === type);
  }

  status(): L7ObjectStatus {
    const conditions: Condition[] = this.specs.map((s) => {
      const errs = this.problems.filter((p) => p.condition === s.type);
      const warns = this.warnings.filter((p) => p.condition === s.type).map((p) => `${p.field}: ${p.message}`);
      if (errs.length === 0) return { type: s.type, status: 'True', reason: s.okReason, message: [s.okMessage, ...warns].join('; ') };
      return { type: s.type, status: 'False', reason: errs[0]?.reason ?? 'Invalid', message: errs.map((p) => `${p.field}: ${p.message}`).join('; ') };
    });
    return { kind: this.kind, namespace: this.meta.namespace, name: this.meta.name, conditions, ...(this.parentRefs ? { parentRefs: this.parentRefs } : {}) };
  }
}
