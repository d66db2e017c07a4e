import t from 'tap';
import { formatListenAddress, parseListenAddress } from './address.js';

t.test('listen addresses', async (t) => {
  const table: Array<[string, string, number]> = [
    ['127.0.0.1:0', '127.0.0.1', 0], [':15012', '0.0.0.0', 15012], ['15014', '0.0.0.0', 15014], ['0', '0.0.0.0', 0],
    ['[::1]:9', '::1', 9], ['[::]:15008', '::', 15008], ['localhost:80', 'localhost', 80], [' :8080 ', '0.0.0.0', 8080], [':65535', '0.0.0.0', 65535],
  ];
  for (const [text, host, port] of table) t.same(parseListenAddress(text, '--a'), { host, port }, text);
  t.same(parseListenAddress(':15000', '--admin-address', '127.0.0.1'), { host: '127.0.0.1', port: 15000 }, 'the default host is the caller\'s');
  t.same(parseListenAddress('15000', '--admin-address', '127.0.0.1'), { host: '127.0.0.1', port: 15000 });
});

t.test('bad listen addresses name the source', async (t) => {
  for (const bad of ['', 'host:', 'a:b', ':70000', '1.2.3.4:-1', 'localhost', '::1:80', '[]:80', '[::1]', '1.2.3.4:123456']) {
    t.throws(() => parseListenAddress(bad, '--grpc-address'), { name: 'ConfigError', message: new RegExp(`^--grpc-address: ${JSON.stringify(bad).replace(/[[\]]/g, '\\$&')} is not a listen address; write host:port`) }, bad);
  }
  t.throws(() => parseListenAddress('x', 'environment AMBIT_GRPC_ADDRESS'), { message: /^environment AMBIT_GRPC_ADDRESS: "x"/ });
});

t.test('format puts IPv6 hosts in brackets and reads back', async (t) => {
  const table: Array<[string, number, string]> = [['0.0.0.0', 15012, '0.0.0.0:15012'], ['::1', 0, '[::1]:0'], ['localhost', 80, 'localhost:80'], ['fd00::1', 15008, '[fd00::1]:15008']];
  for (const [host, port, text] of table) {
    t.equal(formatListenAddress({ host, port }), text);
    t.same(parseListenAddress(text, 'x'), { host, port }, `${text} reads back`);
  }
});
