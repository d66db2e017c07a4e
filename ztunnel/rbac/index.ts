// L4 authorization: compiled Istio Authorization policies and the allow/deny decision.
export { authorize, dryRunVerdict, policyMatches, type Connection, type Decision, type DecisionCode, type DryRunResult } from './authorize.js';
export { compilePolicy, PolicyError, type Cidr, type MatchSpec, type Policy, type PolicyAction, type PolicyScope, type ServiceAccountMatcher, type StringMatcher } from './policy.js';
