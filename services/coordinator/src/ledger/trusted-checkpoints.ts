import { type Checkpoint, checkpointSignatureFailure, TransientError, type TrustedKey } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import type { CheckpointReader } from './checkpoint-reader';
import { storedCheckpoints } from './checkpoints.repository';

/**
 * The checkpoints verification can rely on, smallest first: every one on the Kafka topic (read to
 * its end first: a copy outside the database that a database insider can neither change nor
 * remove), plus database copies whose signatures verify (they can only add anchors: without the
 * coordinator's key, no copy can be forged, and a removed copy is still on the topic).
 */
export async function trustedCheckpoints(
  reader: CheckpointReader,
  db: DataSource,
  lookup: (keyId: string) => readonly TrustedKey[],
  timeoutMs = 10_000,
): Promise<Checkpoint[]> {
  try {
    await reader.caughtUp(timeoutMs);
  } catch (error) {
    throw new TransientError(`cannot read the ledger checkpoints from Kafka to their end (${(error as Error).message}); try again`);
  }
  const seen = new Set<string>();
  const out: Checkpoint[] = [];
  for (const c of [...reader.all(), ...(await storedCheckpoints(db)).filter((c) => checkpointSignatureFailure(lookup, c) === null)]) {
    const id = `${c.treeSize}:${c.rootHash}:${c.lastEntryHash}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(c);
  }
  return out.sort((a, b) => a.treeSize - b.treeSize);
}
