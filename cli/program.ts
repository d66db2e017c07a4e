import { Command } from 'commander';

export function buildProgram(): Command {
  const program = new Command('ambit').description('Ambit: a sidecar-less service mesh').version('0.1.0');
  return program;
}
