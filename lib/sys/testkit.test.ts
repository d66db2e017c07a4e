// Scratch owned by a test process is removed even when that process is killed: by its own signal
// handler on SIGTERM, and by the next process's sweep after a SIGKILL (real namespaces, as root).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import t from 'tap';
import { delNetns, netnsPath } from './netns.js';
import { sweepScratch } from './testkit.js';

if (process.getuid?.() !== 0) {
  t.fail('lib/sys/testkit.test creates network namespaces: run it as root');
  process.exit(1);
}

const OWNER = `
const { addTestNetns } = await import(${JSON.stringify(new URL('./testkit.js', import.meta.url).href)});
await addTestNetns(process.env.NS);
console.log('ready');
setInterval(() => {}, 1000);
`;

async function owner(ns: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', OWNER], { env: { ...process.env, NS: ns }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`owner exited ${code} before it was ready`)));
  });
  return child;
}

for (const [signal, how] of [['SIGTERM', 'by its own handler'], ['SIGINT', 'by its own handler'], ['SIGKILL', 'by the next sweep']] as const) {
  t.test(`a namespace of a test killed with ${signal} is removed ${how}`, async (t) => {
    const ns = `tsk${process.pid}${signal.slice(3, 6).toLowerCase()}`;
    t.teardown(() => delNetns(ns));
    const child = await owner(ns);
    t.ok(existsSync(netnsPath(ns)), 'the owner made it');
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code, sig] = (await exited) as [number | null, string | null];
    if (signal === 'SIGKILL') {
      t.equal(sig, 'SIGKILL');
      t.ok(existsSync(netnsPath(ns)), 'nothing ran in the killed process');
      sweepScratch();
    } else {
      t.equal(code, signal === 'SIGTERM' ? 143 : 130, 'the owner still exits as killed by the signal would');
    }
    t.notOk(existsSync(netnsPath(ns)), 'the namespace is gone');
  });
}
