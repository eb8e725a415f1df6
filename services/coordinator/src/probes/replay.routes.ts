import { ServiceName, type TopicNames } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { type AnyRoute, defineRoute } from '../http/route';
import { requestReplay } from './request-replay';

export interface ReplayRouteDeps {
  dataSource: DataSource;
  topics: TopicNames;
  /** Wakes the outbox relay once the replay commands are queued. */
  onQueued: () => void;
  now?: () => Date;
}

const Since = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset, e.g. 2026-01-01T00:00:00Z' }).refine((s) => {
  const t = new Date(s).getTime();
  return t >= Date.UTC(1970, 0, 1) && t < Date.UTC(10000, 0, 1);
}, 'must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z');

/** Replay after restore: re-apply a service's erasures since its backup's time, without any raw id. */
export function replayRoutes(deps: ReplayRouteDeps): AnyRoute[] {
  const now = deps.now ?? (() => new Date());
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/services/{name}/replay',
      summary:
        "After the service's database was restored from a backup: re-apply every real erasure it acked completed since `since` (the backup's time). The command carries request ids and the keyed hashes the service sent in its acks, never an id; the service erases again what its restored journal lacks.",
      roles: ['admin'],
      params: z.object({ name: ServiceName }),
      body: z.object({ since: Since.refine((s) => new Date(s).getTime() <= now().getTime(), 'must not be in the future') }).strict(),
      responses: {
        202: '{service, since, requests, withoutHash, replays: [{id, requests}]}',
        404: 'No such service',
        409: 'A webhook or manual target (no deletion journal: replays do not apply)',
      },
      handler: async ({ params, body, principal, reply }) => {
        const issued = await requestReplay(
          deps.dataSource,
          deps.topics,
          { service: params.name, since: new Date(body.since), requestedBy: principal.name, trigger: 'operator' },
          now(),
        );
        deps.onQueued();
        return reply.code(202).send(issued);
      },
    }),
  ];
}
