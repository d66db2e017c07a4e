import { Command, InvalidArgumentError } from 'commander';
import { request, runLoad, TransportError, type LoadReport } from './client.js';
import { parseDuration } from '../../../lib/config/duration.js';
import { resolveServerConfig, type EchoServerFlags } from './config.js';
import { startEchoServer } from './server.js';
import { parseHeaderPair } from './text.js';

/** Where the commands write; tests pass their own. Exit status goes to process.exitCode. */
export interface EchoIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIO: EchoIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

const asInt = (flag: string) => (v: string): number => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`${flag} wants a whole number, got '${v}'`);
  return Number(v);
};
const asNumber = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} wants a number >= 0, got '${v}'`);
  return n;
};
const asDuration = (flag: string) => (v: string): number => {
  try {
    return parseDuration(v, flag);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const collectHeader = (v: string, prev: Array<[string, string]>): Array<[string, string]> => {
  try {
    return [...prev, parseHeaderPair(v, '-H')];
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/** Exit statuses of `echo request`. */
export const REQUEST_EXIT = { ok: 0, httpError: 1, noAnswer: 2 } as const;

/**
 * `echo server | client | request`; mounted by the main program as `ambit echo …`.
 * The server's version flag is `--service-version`: `--version` belongs to the root program.
 */
export function echoCommand(io: EchoIO = defaultIO): Command {
  const echo = new Command('echo').description('the echo app for demos, tests and benchmarks: server, load client, one-shot request');

  echo
    .command('server')
    .description('serve HTTP/1.1 + h2c, gRPC and raw TCP echo; SIGTERM drains in-flight requests and exits 0')
    .option('--http <port>', "HTTP/1.1 and h2c port, 'off' to disable", '8080')
    .option('--grpc <port>', "gRPC port, 'off' to disable", '7070')
    .option('--tcp <port>', "TCP echo port, 'off' to disable", '9090')
    .option('--bind <address>', 'listen address', '0.0.0.0')
    .option('--name <pod>', 'Hostname= in answers (env POD_NAME, else the host name)')
    .option('--namespace <ns>', 'Namespace= in answers (env POD_NAMESPACE, else default)')
    .option('--service-version <v>', 'ServiceVersion= in answers (env SERVICE_VERSION or VERSION, else v1)')
    .option('--cluster <name>', 'Cluster= in answers (env CLUSTER)')
    .option('--no-access-log', 'do not log one JSON line per request')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env AMBIT_LOG_LEVEL; default info)')
    .option('--grace <duration>', 'how long SIGTERM waits for in-flight requests', asDuration('--grace'), 10_000)
    .option('--fail-every <n>', 'answer every Nth HTTP echo request with --fail-status instead (1 = all; /healthz never fails; env ECHO_FAIL_EVERY; default 0 = never)')
    .option('--fail-status <code>', 'the status of those failures, 400..599 (env ECHO_FAIL_STATUS; default 500)')
    .action(async (o: Omit<EchoServerFlags, 'version'> & { serviceVersion?: string }) => {
      const flags: EchoServerFlags = { ...o };
      if (o.serviceVersion) flags.version = o.serviceVersion;
      const server = await startEchoServer(resolveServerConfig(flags, process.env));
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) process.exit(1);
        stopping = true;
        io.err(`echo server: ${signal}: draining\n`);
        void server.close().then(() => process.exit(0));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });

  echo
    .command('client')
    .description('send load and report latency percentiles, errors and the Hostname/ServiceVersion split')
    .argument('<url>', 'http://host:port/path, h2c://host:port/path, grpc://host:port or tcp://host:port')
    .option('--qps <n>', 'requests per second, open loop; 0 = closed loop, as fast as possible', asNumber('--qps'), 0)
    .option('-c, --connections <n>', 'connections', asInt('--connections'), 1)
    .option('--streams <n>', 'concurrent requests per connection (h2c, grpc)', asInt('--streams'), 1)
    .option('-d, --duration <duration>', 'how long to run (default 10s unless --count)', asDuration('--duration'))
    .option('-n, --count <n>', 'how many requests in all', asInt('--count'))
    .option('--size <bytes>', 'request payload bytes', asInt('--size'))
    .option('-H, --header <name:value>', 'request header (repeatable)', collectHeader, [])
    .option('--timeout <duration>', 'per-request timeout', asDuration('--timeout'), 5000)
    .option('--json', 'print the report as JSON')
    .action(async (url: string, o: { qps: number; connections: number; streams: number; duration?: number; count?: number; size?: number; header: Array<[string, string]>; timeout: number; json?: boolean }) => {
      const report = await runLoad({
        url,
        qps: o.qps,
        connections: o.connections,
        streams: o.streams,
        headers: o.header,
        timeoutMs: o.timeout,
        ...(o.duration !== undefined ? { durationMs: o.duration } : {}),
        ...(o.count !== undefined ? { count: o.count } : {}),
        ...(o.size !== undefined ? { size: o.size } : {}),
      });
      io.out(o.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      if (report.ok === 0) process.exitCode = 1;
    });

  echo
    .command('request')
    .description(`one request; prints the body. Exit ${REQUEST_EXIT.ok} = answered < 400, ${REQUEST_EXIT.httpError} = status >= 400 (body still printed), ${REQUEST_EXIT.noAnswer} = no answer (connect, timeout, reset)`)
    .argument('<url>', 'http://host:port/path, h2c://host:port/path, grpc://host:port or tcp://host:port')
    .option('-X, --method <method>', 'HTTP method (default GET, or POST with a body)')
    .option('-H, --header <name:value>', 'request header (repeatable)', collectHeader, [])
    .option('--data <text>', 'request body (tcp: the bytes to echo)')
    .option('--size <bytes>', 'send this many bytes of x instead of --data', asInt('--size'))
    .option('--timeout <duration>', 'timeout', asDuration('--timeout'), 5000)
    .option('-i, --include', 'print the status and response headers first')
    .option('--stream <n>', 'grpc: send n messages on one bidirectional StreamEcho call (one answer each)', asInt('--stream'))
    .action(async (url: string, o: { method?: string; header: Array<[string, string]>; data?: string; size?: number; timeout: number; include?: boolean; stream?: number }) => {
      try {
        const r = await request(url, {
          headers: o.header,
          timeoutMs: o.timeout,
          ...(o.method ? { method: o.method } : {}),
          ...(o.data !== undefined ? { body: o.data } : {}),
          ...(o.size !== undefined ? { size: o.size } : {}),
          ...(o.stream !== undefined ? { stream: o.stream } : {}),
        });
        if (o.include) {
          io.out(`Status: ${r.status}${r.grpcCode !== undefined ? ` (grpc ${r.grpcCode})` : ''}\n`);
          for (const [k, v] of Object.entries(r.headers)) io.out(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
          io.out('\n');
        }
        io.out(r.body);
        process.exitCode = r.status >= 400 ? REQUEST_EXIT.httpError : REQUEST_EXIT.ok;
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        io.err(`echo request: ${e.message}\n`);
        process.exitCode = REQUEST_EXIT.noAnswer;
      }
    });

  return echo;
}

/** The human-readable summary `echo client` prints without --json. */
export function formatReport(r: LoadReport): string {
  const l = r.latencyMs;
  const split = (m: Record<string, number>): string =>
    Object.entries(m)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || '-';
  return [
    `${r.target} (${r.protocol}, ${r.mode}${r.qps ? ` at ${r.qps} qps` : ''}, ${r.connections} connections × ${r.streams} streams)`,
    `requests ${r.requests} in ${(r.durationMs / 1000).toFixed(2)} s = ${r.achievedQps.toFixed(1)}/s; ok ${r.ok}; errors ${r.errorCount} ${r.errorCount ? JSON.stringify(r.errors) : ''}`.trimEnd(),
    `latency ms: p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max}`,
    `bytes sent ${r.bytesSent} received ${r.bytesReceived}; reconnects ${r.reconnects}`,
    `versions: ${split(r.versions)}`,
    `hostnames: ${split(r.hostnames)}`,
    '',
  ].join('\n');
}
