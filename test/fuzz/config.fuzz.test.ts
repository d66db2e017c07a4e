// Durations from flags, environment and manifests: a number of milliseconds or a ConfigError that
// names the setting, and every duration formatDuration writes reads back as the same value.
import fc from 'fast-check';
import t from 'tap';
import { formatDuration, parseDuration } from '../../lib/config/duration.js';
import { ConfigError } from '../../lib/config/errors.js';
import { fuzz, refusesOnly } from './harness.js';

const unit = fc.constantFrom('ns', 'us', 'µs', 'ms', 's', 'm', 'h', 'd', '', 'y', 'S', ' ');
const number = fc.oneof(fc.nat().map(String), fc.double({ min: 0, max: 1e6, noNaN: true }).map(String), fc.constantFrom('.5', '1.', '-1', '1e3', '00', ''));
const duration = fc.oneof(fc.array(fc.tuple(number, unit).map(([n, u]) => n + u), { minLength: 1, maxLength: 4 }).map((p) => p.join('')), fc.string({ maxLength: 20 }));

t.test('parseDuration', async (t) => {
  fuzz(t, 'config duration (arbitrary)', [duration], (d) => {
    try {
      const ms = parseDuration(d, '--fuzz');
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`"${d}" gave ${ms}`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      if (!e.message.startsWith('--fuzz: ')) throw new Error(`the error does not name the setting: ${e.message}`);
    }
  }, { weight: 5 });
  fuzz(t, 'config duration round trip', [fc.integer({ min: 0, max: 400 * 86_400_000 })], (ms) => refusesOnly(() => parseDuration(formatDuration(ms), 'x'), ConfigError) === ms, { weight: 3 });
});
