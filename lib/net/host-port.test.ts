import t from 'tap';
import { formatHostPort, parseHostPort } from './host-port.js';

t.test('formatHostPort brackets IPv6 only', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['10.0.0.1', 15008, '10.0.0.1:15008'],
    ['fd00::1', 15008, '[fd00::1]:15008'],
    ['::', 0, '[::]:0'],
    ['localhost', 80, 'localhost:80'],
    ['[::1]', 80, '[::1]:80'],
  ];
  for (const [host, port, want] of cases) t.equal(formatHostPort(host, port), want, `${host} ${port}`);
});

t.test('parseHostPort reads what formatHostPort writes', async (t) => {
  t.same(parseHostPort('127.0.0.1:15000'), { host: '127.0.0.1', port: 15000 });
  t.same(parseHostPort('[::1]:80'), { host: '::1', port: 80 });
  t.same(parseHostPort(':15014'), { host: '', port: 15014 });
  t.same(parseHostPort('node-1.local:0'), { host: 'node-1.local', port: 0 });
  for (const [host, port] of [['fd00::2', 443], ['10.1.2.3', 8080]] as const) t.same(parseHostPort(formatHostPort(host, port)), { host, port });
});

t.test('parseHostPort names the text and the expected form', async (t) => {
  t.throws(() => parseHostPort('localhost'), /"localhost" is not host:port: the ":port" is missing/);
  t.throws(() => parseHostPort('::1:80'), /needs brackets/);
  t.throws(() => parseHostPort('[::1]80'), /followed by \]:port/);
  t.throws(() => parseHostPort('host:65536'), /the port "65536"/);
  t.throws(() => parseHostPort('host:http'), /the port "http"/);
});
