import { randomBytes } from 'node:crypto';

/** A short random name part, so every test gets its own topics, groups and databases. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** A topic prefix unique to one test (`t1a2b3c4d.`), to pass as RETENTION_TOPIC_PREFIX. */
export function uniqueTopicPrefix(): string {
  return `t${uniqueSuffix()}.`;
}
