import t from 'tap';
import { derToPem, joinPem, singlePemDer, splitPem, splitPemBlocks } from './pem.js';

t.test('split and join', async (t) => {
  const a = derToPem(Buffer.from('first certificate bytes'));
  const b = derToPem(Buffer.from('second'));
  const bundle = `junk before\n${a}\nsome text\n${b}`;
  t.same(splitPem(bundle), [a, b]);
  t.equal(joinPem([a.trimEnd(), b]), a + b);
  t.same(splitPem(joinPem([a, b])), [a, b]);
  t.same(splitPem('nothing here'), []);
  t.same(splitPem(`${a}${derToPem(Buffer.from('k'), 'PRIVATE KEY')}`), [a], 'other labels skipped');
  t.equal(splitPemBlocks(a)[0]!.der.toString(), 'first certificate bytes');
});

t.test('bad PEM is refused with a reason', async (t) => {
  t.throws(() => splitPemBlocks('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----'), /closed by "END PRIVATE KEY"/);
  t.throws(() => splitPemBlocks('-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----'), /valid base64/);
  t.throws(() => singlePemDer('', 'CERTIFICATE', 'ca-cert.pem'), /ca-cert.pem must hold exactly one "CERTIFICATE" PEM block, found 0/);
});
