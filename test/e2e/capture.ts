// A packet capture on the link between the nodes (the fabric bridge), for checking what crosses
// the wire: tcpdump in the fabric namespace, written to a file, read back as text.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exec } from '../../lib/sys/exec.js';

export interface Capture {
  /** Stops the capture; returns every packet line (with -A payload text) and how often each TCP port (source or destination) was seen. */
  stop(): Promise<{ text: string; packets: number; ports: Map<number, number> }>;
}

export async function startCapture(netns: string, iface = 'br0', filter = 'tcp'): Promise<Capture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ambit-cap-'));
  const file = path.join(dir, 'cap.pcap');
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-i', iface, '-U', '-n', '-s', '0', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  // tcpdump says "listening on …" once the capture runs.
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        // tcpdump says so a little before packets reach its file (seen here: a capture started
        // right away missed a whole exchange).
        setTimeout(resolve, 1000);
      }
    });
    child.on('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      const r = await exec('tcpdump', ['-r', file, '-n', '-A', '-tt'], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
      const ports = new Map<number, number>();
      let packets = 0;
      for (const line of r.stdout.split('\n')) {
        const m = /IP \d+\.\d+\.\d+\.\d+\.(\d+) > \d+\.\d+\.\d+\.\d+\.(\d+):/.exec(line);
        if (!m) continue;
        packets++;
        for (const p of [Number(m[1]), Number(m[2])]) ports.set(p, (ports.get(p) ?? 0) + 1);
      }
      return { text: r.stdout, packets, ports };
    },
  };
}
