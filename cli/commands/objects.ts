// kubectl-like object commands on the cluster store: apply, delete, get, label.
import { Command } from 'commander';
import { stringify } from 'yaml';
import { kindInfo, kindRef, loadManifests, parseManifests, resolveResource } from '../../lib/store/index.js';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { asList, formatTable, parseLabelArgs } from '../format.js';
import { addStateDir, clusterStore, stateDirOf } from './common.js';

type NsOpts = { namespace?: string; allNamespaces?: boolean; stateDir?: string };

function describe(o: KubeObject): string {
  return `${o.kind.toLowerCase()}/${o.metadata.name}`;
}

async function readInputs(files: string[]): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const f of files) {
    if (f === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      out.push(...parseManifests(Buffer.concat(chunks).toString('utf8'), '<stdin>'));
    } else out.push(...(await loadManifests(f)));
  }
  return out;
}

/**
 * Applies one object like `kubectl apply`: the user's fields replace the stored ones, but what
 * the cluster filled in (status, a Service's clusterIP, a Pod's nodeName) is kept.
 */
export async function applyObject(store: ClusterStore, obj: KubeObject, defaultNs: string | undefined): Promise<'created' | 'configured' | 'unchanged'> {
  const info = kindInfo(obj);
  if (info.namespaced) obj.metadata.namespace ??= defaultNs ?? 'default';
  const key = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, ...(info.namespaced ? { namespace: obj.metadata.namespace } : {}) };
  const cur = await store.get(key);
  if (!cur) {
    await store.create(obj);
    return 'created';
  }
  const next: KubeObject = { ...obj, status: obj.status ?? cur.status };
  if (next.status === undefined) delete next.status;
  const curSpec = cur.spec as Record<string, unknown> | undefined;
  const spec = next.spec as Record<string, unknown> | undefined;
  if (obj.kind === 'Service' && spec && curSpec?.clusterIP && !spec.clusterIP) next.spec = { ...spec, clusterIP: curSpec.clusterIP, clusterIPs: curSpec.clusterIPs };
  if (obj.kind === 'Pod' && spec && curSpec?.nodeName && !spec.nodeName) next.spec = { ...spec, nodeName: curSpec.nodeName };
  const strip = (o: KubeObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, uid: undefined, resourceVersion: undefined, creationTimestamp: undefined, generation: undefined } });
  if (strip(cur) === strip({ ...next, metadata: { ...next.metadata, namespace: cur.metadata.namespace } })) return 'unchanged';
  await store.apply(next);
  return 'configured';
}

export function applyCommand(): Command {
  return addStateDir(new Command('apply'))
    .description('create or update objects from manifests (files, directories, or - for stdin)')
    .requiredOption('-f, --filename <path...>', 'manifest file, directory or -')
    .option('-n, --namespace <ns>', 'namespace for objects that name none')
    .action(async (opts: NsOpts & { filename: string[] }) => {
      const objs = await readInputs(opts.filename);
      const store = await clusterStore(stateDirOf(opts));
      try {
        // Namespaces first, as kubectl users expect a single file with both to work.
        const ordered = [...objs.filter((o) => o.kind === 'Namespace'), ...objs.filter((o) => o.kind !== 'Namespace')];
        for (const o of ordered) console.log(`${describe(o)} ${await applyObject(store, o, opts.namespace)}`);
      } finally {
        await store.close();
      }
    });
}

export function deleteCommand(): Command {
  return addStateDir(new Command('delete'))
    .description('delete objects named in manifests (-f), or by type and name')
    .argument('[type]', 'resource type, e.g. pod, deployment')
    .argument('[names...]', 'object names')
    .option('-f, --filename <path...>', 'manifest file, directory or -')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('--ignore-not-found', 'do not fail when an object does not exist')
    .action(async (type: string | undefined, names: string[], opts: NsOpts & { filename?: string[]; ignoreNotFound?: boolean }) => {
      let targets: KubeObject[];
      if (opts.filename) targets = await readInputs(opts.filename);
      else {
        if (!type || names.length === 0) throw new Error('delete: give -f FILE, or a type and at least one name');
        const info = resolveResource(type);
        targets = names.map((name) => ({ ...kindRef(info), metadata: { name, ...(info.namespaced ? { namespace: opts.namespace ?? 'default' } : {}) } }));
      }
      const store = await clusterStore(stateDirOf(opts));
      let missing = 0;
      try {
        // Namespaces last, so their contents go first.
        const ordered = [...targets.filter((o) => o.kind !== 'Namespace'), ...targets.filter((o) => o.kind === 'Namespace')];
        for (const o of ordered) {
          const info = kindInfo(o);
          const namespace = info.namespaced ? (o.metadata.namespace ?? opts.namespace ?? 'default') : undefined;
          if (o.kind === 'Namespace') await deleteNamespaceContents(store, o.metadata.name);
          const gone = await store.delete({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(namespace ? { namespace } : {}) });
          if (gone) console.log(`${describe(o)} deleted`);
          else if (!opts.ignoreNotFound) {
            missing++;
            console.error(`Error: ${describe(o)}${namespace ? ` in namespace ${namespace}` : ''} not found`);
          }
        }
      } finally {
        await store.close();
      }
      if (missing) process.exitCode = 1;
    });
}

/** Deleting a Namespace deletes what is in it, as the namespace controller does. */
async function deleteNamespaceContents(store: ClusterStore, ns: string): Promise<void> {
  for (const kind of ['Deployment', 'Service', 'Endpoints', 'Pod', 'ServiceAccount', 'ConfigMap', 'Secret', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'AuthorizationPolicy', 'PeerAuthentication', 'VirtualService', 'DestinationRule', 'ServiceEntry']) {
    const ref = kindRef(resolveResource(kind));
    for (const o of await store.list(ref, { namespace: ns })) await store.delete({ ...ref, namespace: ns, name: o.metadata.name });
  }
}

export function getCommand(): Command {
  return addStateDir(new Command('get'))
    .description('list objects: ambit get pods|services|nodes|namespaces|… [NAME] [-n NS] [-o yaml|json]')
    .argument('<type>', 'resource type')
    .argument('[name]', 'one object by name')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-l, --selector <labels>', 'label selector k=v,k2=v2')
    .option('-o, --output <format>', 'yaml, json or name')
    .action(async (type: string, name: string | undefined, opts: NsOpts & { output?: string; selector?: string }) => {
      const info = resolveResource(type);
      if (opts.output && !['yaml', 'json', 'name', 'wide'].includes(opts.output)) throw new Error(`--output: unknown format ${opts.output}; use yaml, json or name`);
      const store = await clusterStore(stateDirOf(opts));
      try {
        const ns = info.namespaced && !opts.allNamespaces ? (opts.namespace ?? 'default') : undefined;
        const ref = kindRef(info);
        let objs: KubeObject[];
        if (name) {
          const o = await store.get({ ...ref, name, ...(ns ? { namespace: ns } : {}) });
          if (!o) throw new Error(`${info.plural} "${name}" not found${ns ? ` in namespace ${ns}` : ''}`);
          objs = [o];
        } else {
          const labelSelector = opts.selector ? Object.fromEntries(opts.selector.split(',').map((kv) => kv.split('=') as [string, string])) : undefined;
          objs = await store.list(ref, { ...(ns ? { namespace: ns } : {}), ...(labelSelector ? { labelSelector } : {}) });
          objs.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
        }
        const single = name ? objs[0]! : asList(objs);
        if (opts.output === 'json') console.log(JSON.stringify(single, null, 2));
        else if (opts.output === 'yaml') process.stdout.write(stringify(single));
        else if (opts.output === 'name') for (const o of objs) console.log(`${info.singular}/${o.metadata.name}`);
        else if (objs.length === 0) console.error(`No resources found${ns ? ` in ${ns} namespace` : ''}.`);
        else console.log(formatTable(info.kind, objs, { allNamespaces: !!opts.allNamespaces && info.namespaced }));
      } finally {
        await store.close();
      }
    });
}

export function labelCommand(): Command {
  return addStateDir(new Command('label'))
    .description('set or remove labels: ambit label namespace|pod|… NAME key=value|key-')
    .argument('<type>', 'resource type')
    .argument('<name>', 'object name')
    .argument('<labels...>', 'key=value to set, key- to remove')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('--overwrite', 'allow changing an existing label')
    .action(async (type: string, name: string, labels: string[], opts: NsOpts & { overwrite?: boolean }) => {
      const info = resolveResource(type);
      const parsed = parseLabelArgs(labels);
      if ('error' in parsed) throw new Error(parsed.error);
      const store = await clusterStore(stateDirOf(opts));
      try {
        const key = { ...kindRef(info), name, ...(info.namespaced ? { namespace: opts.namespace ?? 'default' } : {}) };
        const cur = await store.get(key);
        if (!cur) throw new Error(`${info.plural} "${name}" not found`);
        for (const [k, v] of Object.entries(parsed.set)) {
          const old = cur.metadata.labels?.[k];
          if (old !== undefined && old !== v && !opts.overwrite) throw new Error(`'${k}' already has a value (${old}), and --overwrite is false`);
        }
        const labelPatch: Record<string, string | null> = { ...parsed.set };
        for (const k of parsed.remove) labelPatch[k] = null;
        await store.patch(key, { metadata: { labels: labelPatch } }, { resourceVersion: cur.metadata.resourceVersion! });
        console.log(`${info.singular}/${name} labeled`);
      } finally {
        await store.close();
      }
    });
}
