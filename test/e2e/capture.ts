// A packet capture on the link between the nodes (the fabric bridge), for checking what crosses
// the wire: tcpdump in the fabric namespace, line-buffered text with payloads (-A) on its stdout.
import { spawn } from 'node:child_process';

export interface Capture {
  /** Stops the capture; returns the text and how often each TCP port (source or destination) was seen. */
  stop(): Promise<{ text: string; packets: number; ports: Map<number, number> }>;
}

export async function startCapture(netns: string, iface = 'br0', filter = 'tcp'): Promise<Capture> {
  const child = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-i', iface, '-l', '-n', '-s', '0', '-A', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        setTimeout(resolve, 500);
      }
    });
    child.on('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 500));
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGINT');
      await exited;
      const ports = new Map<number, number>();
      let packets = 0;
      for (const line of text.split('\n')) {
        const m = /IP \d+\.\d+\.\d+\.\d+\.(\d+) > \d+\.\d+\.\d+\.\d+\.(\d+):/.exec(line);
        if (!m) continue;
        packets++;
        for (const p of [Number(m[1]), Number(m[2])]) ports.set(p, (ports.get(p) ?? 0) + 1);
      }
      return { text, packets, ports };
    },
  };
}
