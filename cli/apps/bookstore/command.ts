// `ambit bookstore`: runs one service of the demo's bookstore (cli/apps/bookstore/app.ts).
import os from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../../../lib/config/duration.js';
import { createLogger } from '../../../lib/telemetry/log.js';
import { logLevelFromEnv } from '../../../lib/config/settings.js';
import { parseCall, parseField, startBookstore, type Downstream } from './app.js';

const wrap = <T>(f: (v: string) => T) => (v: string): T => {
  try {
    return f(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

interface Opts {
  service: string;
  serviceVersion?: string;
  port: string;
  bind: string;
  call: Downstream[];
  field: Array<[string, string]>;
  timeout: number;
}

export function bookstoreCommand(): Command {
  return new Command('bookstore')
    .description("one service of the demo's bookstore: answers JSON about itself and nests its downstreams' answers")
    .requiredOption('--service <name>', 'the service this process is (productpage, details, reviews, ratings)')
    .option('--service-version <v>', 'its version (env VERSION, else v1)')
    .option('--port <port>', 'HTTP port', '9080')
    .option('--bind <address>', 'listen address', '0.0.0.0')
    .option('--call <name=url>', 'a downstream to call on every request (repeatable)', (v: string, prev: Downstream[] = []) => [...prev, wrap(parseCall)(v)])
    .option('--field <key=value>', 'a static field of the answer (repeatable)', (v: string, prev: Array<[string, string]> = []) => [...prev, wrap(parseField)(v)])
    .option('--timeout <duration>', 'per downstream call', wrap((v: string) => parseDuration(v, '--timeout')), 3000)
    .action(async (o: Opts) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${o.port}" is not a port`);
      const log = createLogger(`bookstore-${o.service}`, logLevelFromEnv('bookstore', process.env));
      const server = await startBookstore(
        {
          service: o.service,
          version: o.serviceVersion ?? process.env.VERSION ?? 'v1',
          pod: process.env.POD_NAME ?? os.hostname(),
          namespace: process.env.POD_NAMESPACE ?? 'default',
          port,
          host: o.bind,
          calls: o.call ?? [],
          fields: Object.fromEntries(o.field ?? []),
          timeoutMs: o.timeout,
        },
        log,
      );
      const stop = () => void server.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
