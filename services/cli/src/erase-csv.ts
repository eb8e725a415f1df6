import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse';
import { ApiError, type ApiClient } from './api-client';

export interface EraseCsvOptions {
  file: string;
  /** Every row is a subject of this type, its id in the first column; without it rows are `type,id`. */
  type?: string;
  reason?: string;
  dryRun: boolean;
  /** Subjects per call (at most 10,000, the API's bound). */
  chunkSize: number;
  /** Where progress is kept (default `<file>.retention-state.json`). */
  stateFile?: string;
  /** The run's Idempotency-Key (default: a new one, kept in the state file). */
  key?: string;
  /** Waits before a chunk is sent again after a 503 (the coordinator's outbox backlog, or its database). */
  sleep: (ms: number) => Promise<void>;
}

/** A 503 is retried this often, 5 s apart (the API's Retry-After), before the run stops (resumable). */
const RETRIES_ON_503 = 360;

/** What a run has had acknowledged, kept after every chunk so that a rerun resumes after it. */
export interface EraseCsvState {
  version: 1;
  file: string;
  /** Every call of this run sends it: line n is idempotent under `<key>#<n>`. */
  key: string;
  /** Every line up to this one was accepted (or is waiting for approval). */
  acknowledgedThroughLine: number;
  created: number;
  existing: number;
  /** Approvals that chunks wait for (the `bulk` approval rule). */
  awaitingApproval: string[];
}

export interface EraseCsvSummary extends EraseCsvState {
  stateFile: string;
  /** Lines sent by this run (the ones a previous run had acknowledged are skipped). */
  sentThisRun: number;
  seconds: number;
}

/** A file the CLI cannot use as it is: exit 2, naming the line. */
export class CsvUsageError extends Error {}

interface BulkReply {
  status: 'accepted' | 'awaiting_approval';
  id?: string;
  created?: number;
  existing?: number;
}

/**
 * `retention erase --csv FILE`: streams the file (never whole in memory) in chunks of
 * `chunkSize` subjects, one `POST /v1/erasure-requests/bulk` each, and records after each chunk the
 * last line acknowledged in the state file. A rerun (after a crash, a network error, Ctrl-C) skips
 * what was acknowledged and sends the rest with the same key, so a chunk that was accepted without
 * the CLI hearing of it creates nothing twice (each line is idempotent under `<key>#<line>`).
 */
export async function eraseCsv(client: ApiClient, o: EraseCsvOptions, progress: (line: string) => void): Promise<EraseCsvSummary> {
  const file = resolve(o.file);
  if (!existsSync(file)) throw new CsvUsageError(`${o.file}: no such file`);
  const stateFile = resolve(o.stateFile ?? `${o.file}.retention-state.json`);
  const state = readState(stateFile, file, o.key);
  const total = statSync(file).size;
  const started = performance.now();
  let sentThisRun = 0;
  let chunk: Array<{ subject: { type: string; id: string }; line: number }> = [];
  let bytes = 0;

  const send = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const last = chunk[chunk.length - 1]!.line;
    let reply: BulkReply | undefined;
    for (let attempt = 1; !reply; attempt += 1) {
      try {
        reply = (await client.call('POST', '/v1/erasure-requests/bulk', {
          body: { items: chunk, dryRun: o.dryRun, ...(o.reason ? { reason: o.reason } : {}) },
          headers: { 'idempotency-key': state.key },
        })) as BulkReply;
      } catch (error) {
        // The coordinator is publishing a backlog (or its database is busy): the same chunk again later.
        if (!(error instanceof ApiError && error.status === 503) || attempt >= RETRIES_ON_503) throw error;
        progress(`line ${chunk[0]!.line.toLocaleString('en-US')}: the coordinator asks to wait (${error.message.replace(/^503 \w+: /, '')}); again in 5 s`);
        await o.sleep(5000);
      }
    }
    if (reply.status === 'awaiting_approval' && reply.id) {
      if (!state.awaitingApproval.includes(reply.id)) state.awaitingApproval.push(reply.id);
    } else {
      state.created += reply.created ?? 0;
      state.existing += reply.existing ?? 0;
    }
    sentThisRun += chunk.length;
    state.acknowledgedThroughLine = last;
    writeState(stateFile, state);
    chunk = [];
    const seconds = (performance.now() - started) / 1000;
    progress(
      `${bar(bytes / Math.max(total, 1))} line ${last.toLocaleString('en-US')}: ${(state.created + state.existing).toLocaleString('en-US')} accepted (${state.created.toLocaleString('en-US')} new), ${state.awaitingApproval.length} awaiting approval, ${Math.round(sentThisRun / Math.max(seconds, 0.001)).toLocaleString('en-US')}/s`,
    );
  };

  const parser = createReadStream(file).pipe(parse({ info: true, skip_empty_lines: true, trim: true, relax_column_count: true, comment: '#' }));
  let first = true;
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number } }>) {
    const line = info.lines;
    bytes = info.bytes;
    const isHeader = first && (o.type ? record[0]?.toLowerCase() === 'id' : record[0]?.toLowerCase() === 'type' && record[1]?.toLowerCase() === 'id');
    first = false;
    if (isHeader || line <= state.acknowledgedThroughLine) continue;
    const subject = o.type ? { type: o.type, id: record[0] ?? '' } : { type: record[0] ?? '', id: record[1] ?? '' };
    const columns = o.type ? 1 : 2;
    if (record.length !== columns || !subject.type || !subject.id) {
      throw new CsvUsageError(`${o.file} line ${line}: expected ${o.type ? 'one column (the id; --type gives the type)' : 'two columns: type,id'}`);
    }
    chunk.push({ subject, line });
    if (chunk.length >= o.chunkSize) await send();
  }
  await send();
  return { ...state, stateFile, sentThisRun, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

function readState(stateFile: string, file: string, key: string | undefined): EraseCsvState {
  if (!existsSync(stateFile)) {
    return { version: 1, file, key: key ?? `csv-${randomUUID()}`, acknowledgedThroughLine: 0, created: 0, existing: 0, awaitingApproval: [] };
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as EraseCsvState;
  if (state.version !== 1 || typeof state.key !== 'string' || typeof state.acknowledgedThroughLine !== 'number') {
    throw new CsvUsageError(`${stateFile} is not a state file of retention erase --csv`);
  }
  if (state.file !== file) throw new CsvUsageError(`${stateFile} belongs to ${state.file}, not ${file}; pass --state for another file`);
  if (key && key !== state.key) throw new CsvUsageError(`${stateFile} was made with another --key (${state.key})`);
  return state;
}

/** Written whole then renamed: a crash leaves the old state or the new one, never half of one. */
function writeState(stateFile: string, state: EraseCsvState): void {
  writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${stateFile}.tmp`, stateFile);
}

function bar(fraction: number, width = 20): string {
  const done = Math.min(width, Math.max(0, Math.round(fraction * width)));
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${Math.min(100, Math.floor(fraction * 100))
    .toString()
    .padStart(3)}%`;
}
