import t from 'tap';
import { formatHostPort as hostPort } from '../net/host-port.js';
import { checkMark, checkNetns, checkPort, ipFamily } from './args.js';
import { describeErrno, makeNativeError, NativeError, toNativeError } from './errors.js';
import { addonCandidates } from './load.js';

t.test('argument checks', async (t) => {
  const ok: Array<[() => unknown, unknown]> = [
    [() => ipFamily('10.0.0.1', 'host'), 4],
    [() => ipFamily('::1', 'host'), 6],
    [() => checkPort(0, 'port'), 0],
    [() => checkPort(65535, 'port'), 65535],
    [() => checkMark(0x539), 0x539],
    [() => checkMark(0xffffffff), 0xffffffff],
    [() => checkNetns(undefined), null],
    [() => checkNetns('/var/run/netns/x'), '/var/run/netns/x'],
    [() => checkNetns(7), 7],
  ];
  for (const [fn, want] of ok) t.equal(fn(), want);
  const bad: Array<[() => unknown, RegExp]> = [
    [() => ipFamily('localhost', 'host'), /host must be an IPv4 or IPv6 address literal/],
    [() => ipFamily(undefined, 'localAddress'), /localAddress must be/],
    [() => checkPort(65536, 'port'), /port must be an integer port/],
    [() => checkPort(1.5, 'localPort'), /localPort must be/],
    [() => checkMark(-1), /mark must be an integer from 0 to 0xffffffff/],
    [() => checkNetns(''), /netns must be a netns file path or an open fd/],
    [() => checkNetns(-3), /netns must be an open file descriptor/],
  ];
  for (const [fn, re] of bad) t.throws(fn, re);
  t.equal(hostPort('::1', 80), '[::1]:80');
  t.equal(hostPort('1.2.3.4', 80), '1.2.3.4:80');
});

t.test('errors carry the errno name, the syscall and a hint', async (t) => {
  t.same(describeErrno(111), ['ECONNREFUSED', 'connection refused']);
  const e = makeNativeError('listen on 10.9.9.9:80 in /var/run/netns/a', 99, 'bind');
  t.ok(e instanceof NativeError);
  t.match(e, { code: 'EADDRNOTAVAIL', errno: 99, syscall: 'bind' });
  t.match(e.message, /^listen on 10\.9\.9\.9:80 in \/var\/run\/netns\/a: bind failed with EADDRNOTAVAIL .*transparent: true/);
  // Node's own errors have negative errnos.
  const fromNode = toNativeError(Object.assign(new Error('x'), { errno: -111, code: 'ECONNREFUSED', syscall: 'connect' }), 'c');
  t.match(fromNode, { code: 'ECONNREFUSED', errno: 111, syscall: 'connect' });
  const plain = new TypeError('plain');
  t.equal(toNativeError(plain, 'c'), plain);
});

t.test('the addon is looked for beside the source and from dist/', async (t) => {
  t.same(addonCandidates('/r/dist/lib/native', {}), [
    '/r/dist/lib/native/build/Release/ambit_native.node',
    '/r/lib/native/build/Release/ambit_native.node',
  ]);
  t.equal(addonCandidates('/r/lib/native', { AMBIT_NATIVE_ADDON: '/x.node' })[0], '/x.node');
});
