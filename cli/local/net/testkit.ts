// Test helpers (not tests): tiny Node servers and clients run inside namespaces with `ip netns exec`.
import { spawn } from 'node:child_process';
import { inNetns } from '../../../lib/sys/netns.js';

const SERVER = `
const net = require('node:net');
const [id, port, host] = process.argv.slice(1);
const s = net.createServer((c) => { c.on('error', () => {}); c.end(id + ' ' + c.remoteAddress + '\\n'); });
s.listen(Number(port), host, () => process.stdout.write('ready\\n'));
`;

const CLIENT = `
const net = require('node:net');
const [host, port, count, timeout] = process.argv.slice(1);
const one = () => new Promise((res) => {
  const c = net.connect(Number(port), host); let out = '';
  const t = setTimeout(() => { c.destroy(); res('timeout'); }, Number(timeout));
  c.on('data', (d) => { out += d; }); c.on('end', () => { clearTimeout(t); res(out.trim()); });
  c.on('error', (e) => { clearTimeout(t); res('error ' + e.code); });
});
(async () => { for (let i = 0; i < Number(count); i++) console.log(await one()); })();
`;

export interface Server {
  pid: number;
  stop(): void;
}

/** Starts a TCP server in `netns` that answers each connection with `<id> <client address>` and closes. */
export function startServer(netns: string, id: string, port: number, host = '0.0.0.0', timeoutMs = 20_000): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', SERVER, id, String(port), host], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`server ${id} in ${netns} not ready after ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('ready')) return;
      clearTimeout(timer);
      const pid = child.pid!;
      resolve({ pid, stop: () => void (child.exitCode === null && child.kill()) });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server ${id} in ${netns} exited with ${code}: ${err}`));
    });
  });
}

/** Makes `count` sequential connections from `netns`; one line per connection (`<id> <addr>`, `timeout` or `error CODE`). */
export async function tcpRequests(netns: string, host: string, port: number, count = 1, timeoutMs = 3000): Promise<string[]> {
  const r = await inNetns(netns, process.execPath, ['-e', CLIENT, host, String(port), String(count), String(timeoutMs)], { timeoutMs: 60_000 });
  return r.stdout.trim().split('\n');
}
