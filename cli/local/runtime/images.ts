// The local runtime runs programs from this machine, not images: an image stands for a command.
// Ambit's own image (repository `ambit`, any registry or tag: what the charts run) has the
// entrypoint `ambit`, found on the pod's PATH; other images need spec.containers[].command.

/** The repository of an image reference without registry, tag or digest: `ghcr.io/x/ambit:1.0` → `ambit`. */
export function imageRepositoryName(image: string): string {
  const noDigest = image.split('@')[0] ?? '';
  const last = noDigest.split('/').pop() ?? '';
  return last.split(':')[0] ?? '';
}

/** The entrypoint of an image the runtime knows, or undefined. */
export function imageEntrypoint(image: string | undefined): string[] | undefined {
  if (!image) return undefined;
  return imageRepositoryName(image) === 'ambit' ? ['ambit'] : undefined;
}
