import t from 'tap';
import { imageEntrypoint, imageRepositoryName } from './images.js';

t.test('image repository names', async (t) => {
  const cases: Array<[string, string]> = [
    ['ambit', 'ambit'],
    ['ambit:0.1.0', 'ambit'],
    ['ghcr.io/ambit-mesh/ambit:0.1.0', 'ambit'],
    ['localhost:5000/ambit:dev', 'ambit'],
    ['ambit@sha256:0123abcd', 'ambit'],
    ['registry.example/ambit-tools:1', 'ambit-tools'],
    ['busybox', 'busybox'],
  ];
  for (const [image, want] of cases) t.equal(imageRepositoryName(image), want, image);
});

t.test('entrypoints of known images', async (t) => {
  t.same(imageEntrypoint('ghcr.io/ambit-mesh/ambit:0.1.0'), ['ambit']);
  t.same(imageEntrypoint('localhost:5000/ambit:dev'), ['ambit']);
  t.equal(imageEntrypoint('nginx:1.27'), undefined);
  t.equal(imageEntrypoint('ambit-tools'), undefined);
  t.equal(imageEntrypoint(undefined), undefined);
});
