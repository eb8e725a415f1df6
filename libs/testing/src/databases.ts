import { dropDatabase, ensureDatabase, withDatabase } from '@retention/database';
import { uniqueSuffix } from './names';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database of its own for one test file (`<prefix>_<random>`). */
export async function createTestDatabase(baseUrl: string, prefix: string): Promise<TestDatabase> {
  const url = withDatabase(baseUrl, `${prefix.replace(/[^a-z0-9_]/g, '_')}_${uniqueSuffix()}`);
  await ensureDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}
