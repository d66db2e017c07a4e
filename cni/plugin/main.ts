#!/usr/bin/env node
// ambit-cni: the chained CNI plugin. Runs once per pod sandbox, so it imports only what every
// invocation needs; the agent client (node:http) is loaded only when the agent is asked.
import { readFileSync } from 'node:fs';
import { runPlugin } from './plugin.js';

async function readStdin(): Promise<string> {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    // A non-blocking pipe (EAGAIN) is read the slow way; no stdin at all is an empty config.
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return '';
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  }
}

const out = await runPlugin({ env: process.env, stdin: await readStdin() });
if (out.stdout) process.stdout.write(out.stdout + '\n');
process.exitCode = out.exitCode;
