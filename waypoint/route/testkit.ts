// Builders for route tests: generated ambit.l7.v1 messages from plain objects.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { RouteMatchSchema, RouteSchema, type Route, type RouteMatch } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import type { RouteRequest } from './request.js';

export const route = (name: string, matches: MessageInitShape<typeof RouteMatchSchema>[] = []): Route => create(RouteSchema, { name, matches });
export const match = (m: MessageInitShape<typeof RouteMatchSchema>): RouteMatch => create(RouteMatchSchema, m);
export const request = (r: Partial<RouteRequest> = {}): RouteRequest => ({ method: 'GET', path: '/', query: '', headers: {}, port: 80, ...r });
