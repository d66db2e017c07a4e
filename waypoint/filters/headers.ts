// Request and response header mutation (set replaces, add appends, remove drops). Pure: it returns
// a new object and never touches the one given.
import type { HeaderMutation } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import type { Headers } from '../route/request.js';

export function mutateHeaders(h: Headers, ...mutations: (HeaderMutation | undefined)[]): Headers {
  const out: Headers = { ...h };
  for (const m of mutations) {
    if (!m) continue;
    for (const [k, v] of Object.entries(m.set)) out[k.toLowerCase()] = v;
    for (const [k, v] of Object.entries(m.add)) {
      const name = k.toLowerCase();
      const cur = out[name];
      out[name] = cur === undefined ? v : [...(Array.isArray(cur) ? cur : [cur]), v];
    }
    for (const k of m.remove) delete out[k.toLowerCase()];
  }
  return out;
}
