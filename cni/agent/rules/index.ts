// In-pod traffic redirection and node-side probe SNAT for the CNI node agent.
export * from './constants.js';
export { redirectConfig, familiesOf, type RedirectOptions, type RedirectConfig } from './options.js';
export { iptablesRules, renderIptables, parseIptablesSave, planApply, planRemoval, compareIptables } from './iptables.js';
export { nftChains, renderNft, renderNftRemoval } from './nft.js';
export { routeCommands } from './routes.js';
export { detectBackend, describeBackend, type Backend, type BackendPreference } from './backend.js';
export { PodRedirector, describeConfig, type CheckResult, type RedirectState, type RedirectorOptions } from './redirect.js';
export { ProbeSnat, type ProbeSnatOptions, type ProbeBackendPreference } from './probe-snat.js';
export { probeIptablesRules, renderProbeNftSetup } from './host-probe.js';
