/**
 * @kubernetes/client-node, loaded on first use. Loading it costs about 0.3 s and 65 MB of memory,
 * which every process that imports the store but runs on the File back end (the CLI, the node
 * agents) would otherwise pay.
 */
export type ClientNode = typeof import('@kubernetes/client-node');

let loading: Promise<ClientNode> | undefined;

export function clientNode(): Promise<ClientNode> {
  return (loading ??= import('@kubernetes/client-node'));
}
