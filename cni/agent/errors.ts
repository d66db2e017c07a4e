// Why an enrolment failed, in words for the CNI plugin's error and a stable reason for metrics;
// `retryable` tells the plugin whether "try again later" (CNI code 11) is the honest answer.
import { isZdsError } from '../../lib/zds/index.js';

export type FailureReason =
  | 'invalid' | 'bad-annotation' | 'netns-missing' | 'pod-not-found' | 'rules' | 'probe-snat' | 'store'
  | 'ztunnel-not-connected' | 'ztunnel-nack' | 'ztunnel-timeout' | 'ztunnel-error' | 'shutting-down';

export class EnrolError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'EnrolError';
  }

  /** Classifies what a step threw; `stage` is the step that was running. */
  static from(e: unknown, stage: FailureReason, pod: string): EnrolError {
    if (e instanceof EnrolError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    if (isZdsError(e)) {
      const lead = `ztunnel did not take pod ${pod}`;
      switch (e.code) {
        case 'NO_ZTUNNEL':
          return new EnrolError('ztunnel-not-connected', `${lead}: ${msg}`, true);
        case 'NACK':
          return new EnrolError('ztunnel-nack', `${lead}: ${msg}`, true);
        case 'TIMEOUT':
          return new EnrolError('ztunnel-timeout', `${lead}: no acknowledgement in time (${msg})`, true);
        default:
          return new EnrolError('ztunnel-error', `${lead}: ${msg}`, true);
      }
    }
    switch (stage) {
      case 'rules':
        return new EnrolError('rules', `cannot redirect the traffic of pod ${pod}: ${msg}`, false);
      case 'probe-snat':
        return new EnrolError('probe-snat', `cannot add pod ${pod} to the node's probe SNAT set: ${msg}`, true);
      case 'store':
        return new EnrolError('store', `cluster store: ${msg}`, true);
      default:
        return new EnrolError(stage, `pod ${pod}: ${msg}`, stage.startsWith('ztunnel'));
    }
  }
}
