// The import rules that hold the architecture, as pure functions over parsed imports and the
// import graph, and a scanner that applies them to the source tree. Run by `npm test`
// (dist/scripts/check-layers.js).
//
// - lib/ imports only node:*, packages and lib/;
// - web/ (the dashboard's browser code) imports only web/;
// - a component imports lib/ and itself, never another component, never test/; the one way in
//   is the command line starting a component: cli/program.ts may import exactly the function that
//   builds the component's command from `<component>/main.ts`, and a main.ts re-exports nothing;
// - the data path (ztunnel/proxy, waypoint/listener|route|filters|upstream) reads state through an
//   interface, never from xds/ or admin/;
// - unit tests and test helpers next to the code obey the rules of their folder; only the
//   top-level test/ folder (cross-component by definition) and scripts/ may import anything;
// - no import cycles anywhere in the tree.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const COMPONENTS = ['control', 'ztunnel', 'waypoint', 'cni', 'cli'] as const;

/** The one export of `<component>/main.ts` the command line may import: its command. */
export const ENTRIES: Readonly<Record<string, string>> = {
  control: 'controlCommand',
  ztunnel: 'ztunnelCommand',
  waypoint: 'waypointCommand',
  cni: 'cniAgentCommand',
};

/** The only file that starts components. */
export const PROGRAM_FILE = 'cli/program.ts';

/** Folders on a data path: they read state through an interface, never from xds/ or admin/. */
const DATA_PATH: Record<string, string[]> = {
  ztunnel: ['proxy'],
  waypoint: ['listener', 'route', 'filters', 'upstream'],
};

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

export interface ImportRef {
  specifier: string;
  /**
   * The exported names taken from the module ('default' for a default import); undefined when
   * the whole module is (namespace import, `export *`, dynamic import, side-effect import).
   */
  names: string[] | undefined;
  /** Erased at run time (`import type`, or every named binding marked `type`). */
  typeOnly: boolean;
  /** `export … from`: the module hands the names on instead of using them. */
  reexport: boolean;
}

function topOf(rel: string): string {
  return rel.split('/')[0] ?? '';
}

function isComponent(top: string): boolean {
  return (COMPONENTS as readonly string[]).includes(top);
}

/** `<component>/main.ts` of a component that has an entry. */
function entryComponentOf(target: string): string | undefined {
  const m = /^([a-z]+)\/main\.ts$/.exec(target);
  return m && ENTRIES[m[1]!] !== undefined ? m[1] : undefined;
}

/**
 * Checks one import. `file` and `target` are paths relative to the repository root, `target`
 * undefined when the specifier is a package or `node:*`; `names` are the names imported (see
 * ImportRef.names), needed only to tell the command line's entry imports apart.
 */
export function checkImport(file: string, specifier: string, target: string | undefined, names?: readonly string[]): Violation | undefined {
  const v = (rule: string): Violation => ({ file, specifier, rule });
  if (target === undefined) return undefined;
  const from = topOf(file);
  const to = topOf(target);
  // test/ is cross-component by definition; scripts/ are build tools. Tests and helpers next to
  // the code fall through: they obey their folder's rules.
  if (from === 'test' || from === 'scripts') return undefined;
  if (from === 'web') {
    if (to !== 'web') return v(`web/ is browser code built on its own (web/*/tsconfig.json) into dist/web; it imports only web/, not ${to}/`);
    return undefined;
  }
  if (from === 'lib') {
    if (to !== 'lib') return v(`lib/ imports only node:*, packages and lib/, not ${to}/; move what both need into lib/`);
    return undefined;
  }
  if (isComponent(from)) {
    if (to === 'test') return v('product code and its unit tests never import test/; move the helper into lib/ or the test into test/');
    if (to !== 'lib' && to !== from) {
      const entryOf = entryComponentOf(target);
      if (entryOf !== undefined && from === 'cli') {
        const entry = ENTRIES[entryOf]!;
        if (file !== PROGRAM_FILE) return v(`only ${PROGRAM_FILE} starts components; import what is shared from lib/ instead`);
        if (names === undefined || names.length !== 1 || names[0] !== entry) {
          return v(`${PROGRAM_FILE} imports only ${entry} from ${target}, not ${names === undefined ? 'the whole module' : names.join(', ')}; move what is shared into lib/`);
        }
        return undefined;
      }
      return v(`a component imports lib/ and itself, never another component (${to}/); move what is shared into lib/ or the test into test/`);
    }
    const second = file.split('/')[1] ?? '';
    if (DATA_PATH[from]?.includes(second)) {
      const targetSecond = target.split('/')[1] ?? '';
      if ((to === from && (targetSecond === 'xds' || targetSecond === 'admin')) || target.startsWith('lib/xds/')) {
        return v('the data path reads state through an interface, never xds/ or admin/');
      }
    }
  }
  return undefined;
}

/**
 * Checks a component's main.ts: it exports the function that builds its command and re-exports
 * nothing, so that the command line cannot reach the component's internals through it.
 */
export function checkEntryModule(file: string, imports: readonly ImportRef[], exported: readonly string[]): Violation[] {
  const component = entryComponentOf(file);
  if (component === undefined) return [];
  const out: Violation[] = [];
  for (const i of imports) {
    if (i.reexport) {
      out.push({ file, specifier: i.specifier, rule: `${file} re-exports nothing (only ${ENTRIES[component]} leaves it); import internals from their own files` });
    }
  }
  const entry = ENTRIES[component]!;
  if (!exported.includes(entry)) out.push({ file, specifier: '', rule: `${file} must export ${entry}, the command ${PROGRAM_FILE} starts the component with` });
  return out;
}

function parse(source: string, fileName: string): ts.SourceFile {
  return ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
}

function literal(node: ts.Node | undefined): string | undefined {
  return node !== undefined && ts.isStringLiteralLike(node) ? node.text : undefined;
}

/** Every import of a module: static, re-export, side-effect, `import x = require()`, dynamic and `import('…')` types. */
export function parseImports(source: string, fileName = 'module.ts'): ImportRef[] {
  const out: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const specifier = literal(node.moduleSpecifier);
      if (specifier !== undefined) {
        const clause = node.importClause;
        if (!clause) {
          out.push({ specifier, names: undefined, typeOnly: false, reexport: false });
        } else {
          const bindings = clause.namedBindings;
          let names: string[] | undefined = [];
          let allTypes = clause.isTypeOnly;
          if (bindings && ts.isNamespaceImport(bindings)) names = undefined;
          else {
            if (clause.name) names.push('default');
            const elements = bindings && ts.isNamedImports(bindings) ? bindings.elements : [];
            for (const e of elements) names.push((e.propertyName ?? e.name).text);
            if (!clause.isTypeOnly) allTypes = !clause.name && elements.length > 0 && elements.every((e) => e.isTypeOnly);
          }
          out.push({ specifier, names, typeOnly: allTypes, reexport: false });
        }
      }
      return;
    }
    if (ts.isExportDeclaration(node)) {
      const specifier = literal(node.moduleSpecifier);
      if (specifier !== undefined) {
        const clause = node.exportClause;
        const names = clause && ts.isNamedExports(clause) ? clause.elements.map((e) => (e.propertyName ?? e.name).text) : undefined;
        const typeOnly = node.isTypeOnly || (!!clause && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
        out.push({ specifier, names, typeOnly, reexport: true });
      }
      return;
    }
    if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const specifier = literal(node.moduleReference.expression);
      if (specifier !== undefined) out.push({ specifier, names: undefined, typeOnly: node.isTypeOnly, reexport: false });
      return;
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const specifier = literal(node.arguments[0]);
      if (specifier !== undefined) out.push({ specifier, names: undefined, typeOnly: false, reexport: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const specifier = literal(node.argument.literal);
      if (specifier !== undefined) out.push({ specifier, names: undefined, typeOnly: true, reexport: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(source, fileName));
  return out;
}

/** The module specifiers a source imports, in source order. */
export function importsOf(source: string): string[] {
  return parseImports(source).map((i) => i.specifier);
}

function hasExportModifier(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

/** The names a module declares and exports itself (re-exports excluded). */
export function exportsOf(source: string, fileName = 'module.ts'): string[] {
  const out: string[] = [];
  for (const s of parse(source, fileName).statements) {
    if (ts.isExportDeclaration(s) && !s.moduleSpecifier && s.exportClause && ts.isNamedExports(s.exportClause)) {
      for (const e of s.exportClause.elements) out.push(e.name.text);
    } else if (ts.isExportAssignment(s)) {
      out.push('default');
    } else if (hasExportModifier(s)) {
      if (ts.isVariableStatement(s)) {
        for (const d of s.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push(d.name.text);
      } else if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) && s.name) {
        out.push(s.name.text);
      }
    }
  }
  return out;
}

/**
 * The import cycles of a graph (module → the modules it imports), each as a path that starts and
 * ends at the same module: ['a', 'b', 'a']. Every module that lies on a cycle is on at least one
 * reported cycle: per strongly connected component, the shortest cycle through its first module
 * (in sort order) not yet covered, until all of it is. Deterministic for a given graph.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const edges = (n: string): readonly string[] => graph.get(n) ?? [];
  // Tarjan's algorithm, iterative: import chains can be deeper than is comfortable to recurse.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const root of [...graph.keys()].sort()) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: root, i: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const succ = edges(frame.node);
      if (frame.i < succ.length) {
        const w = succ[frame.i++]!;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== frame.node);
        components.push(scc);
      }
    }
  }

  const cycles: string[][] = [];
  for (const scc of components) {
    const members = new Set(scc);
    const selfLoop = scc.length === 1 && edges(scc[0]!).includes(scc[0]!);
    if (scc.length === 1 && !selfLoop) continue;
    const covered = new Set<string>();
    for (const start of [...scc].sort()) {
      if (covered.has(start)) continue;
      const cycle = shortestCycle(start, members, edges);
      cycles.push(cycle);
      for (const n of cycle) covered.add(n);
    }
  }
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Breadth-first from `start` back to itself, inside one strongly connected component. */
function shortestCycle(start: string, members: ReadonlySet<string>, edges: (n: string) => readonly string[]): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q]!;
    for (const w of [...edges(n)].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const back: string[] = [];
        for (let c = n; c !== start; c = parent.get(c)!) back.push(c);
        return [start, ...back.reverse(), start];
      }
      if (!parent.has(w) && w !== start) {
        parent.set(w, n);
        queue.push(w);
      }
    }
  }
  // Unreachable for a member of a strongly connected component of more than one module.
  return [start, start];
}

export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}

function walk(dir: string, acc: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'build' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, acc);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) acc.push(p);
  }
  return acc;
}

/** Folders the layering rules apply to. */
const LAYERED = ['lib', 'web', ...COMPONENTS];
/** Folders whose modules join the import graph (the cycle check covers the whole tree). */
const GRAPHED = [...LAYERED, 'test', 'scripts'];

interface SourceModule {
  file: string;
  source: string;
  imports: ImportRef[];
}

function readTree(root: string, tops: readonly string[]): SourceModule[] {
  const out: SourceModule[] = [];
  for (const top of tops) {
    let files: string[] = [];
    try {
      files = walk(path.join(root, top), []);
    } catch {
      continue;
    }
    for (const abs of files) {
      const file = path.relative(root, abs).split(path.sep).join('/');
      const source = readFileSync(abs, 'utf8');
      out.push({ file, source, imports: parseImports(source, file) });
    }
  }
  return out;
}

/** The repository-relative .ts file a relative specifier names, or undefined for packages and node:*. */
export function resolveTarget(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
}

/**
 * The import graph of a tree: module → the modules it imports. Type-only imports are edges too:
 * they are erased at run time, but a type cycle ties the two modules together just the same (one
 * cannot be understood, moved or tested without the other), which is what the check is about.
 */
export function importGraph(modules: readonly SourceModule[]): Map<string, string[]> {
  const known = new Set(modules.map((m) => m.file));
  const graph = new Map<string, string[]>();
  for (const m of modules) {
    const targets = new Set<string>();
    for (const i of m.imports) {
      const target = resolveTarget(m.file, i.specifier);
      if (target !== undefined && known.has(target)) targets.add(target);
    }
    graph.set(m.file, [...targets]);
  }
  return graph;
}

export interface ScanReport {
  violations: Violation[];
  cycles: string[][];
}

export function scan(root: string): ScanReport {
  const modules = readTree(root, GRAPHED);
  const violations: Violation[] = [];
  for (const m of modules) {
    if (!LAYERED.includes(topOf(m.file))) continue;
    for (const i of m.imports) {
      const violation = checkImport(m.file, i.specifier, resolveTarget(m.file, i.specifier), i.names);
      if (violation) violations.push(violation);
    }
    violations.push(...checkEntryModule(m.file, m.imports, exportsOf(m.source, m.file)));
  }
  return { violations, cycles: findCycles(importGraph(modules)) };
}
