// Ambit's release: what `ambit --version` prints, the `istio_build` tag, and the ISTIO_VERSION a
// proxy reports in its xDS node metadata (what `ambit proxy-status` shows as VERSION).
export const AMBIT_VERSION = '0.1.0';
