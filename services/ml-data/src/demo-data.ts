import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';

const DAY = 86_400_000;

/**
 * Demo data for `user:demo-1` … `user:demo-100`: three training records each (one past 90 days),
 * each with its input file under `training/`, four inference logs each (two past 30 days), and a
 * `models/` directory with old and new artifacts plus files that must never be swept.
 */
export async function seedDemoData(dataSource: DataSource, context: { filesRoot?: string }, now: Date = new Date()): Promise<number> {
  const [{ n }] = (await dataSource.query('SELECT count(*)::int AS n FROM training_records')) as [{ n: number }];
  if (n > 0 || !context.filesRoot) return 0;
  const root = context.filesRoot;
  await mkdir(join(root, 'training'), { recursive: true });
  await mkdir(join(root, 'models'), { recursive: true });
  const records: Array<[string, string, string, Date]> = [];
  for (let u = 1; u <= 100; u++) {
    for (const ageDays of [5, 40, 120]) {
      const path = `training/demo-${u}-${ageDays}.json`;
      await writeFile(join(root, path), JSON.stringify({ text: `example input of demo user ${u}` }));
      records.push([`demo-${u}`, path, ageDays > 60 ? 'spam' : 'ham', new Date(now.getTime() - ageDays * DAY)]);
    }
  }
  await dataSource.query(
    `INSERT INTO training_records (user_id, artifact_path, label, created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])`,
    [records.map((r) => r[0]), records.map((r) => r[1]), records.map((r) => r[2]), records.map((r) => r[3].toISOString())],
  );
  await dataSource.query(
    `INSERT INTO inference_logs (user_id, model_version, prediction, created_at)
     SELECT 'demo-' || u, 'v' || d, jsonb_build_object('score', d / 10.0), $1::timestamptz - make_interval(days => d * 15)
     FROM generate_series(1, 100) u, generate_series(0, 3) d`,
    [now.toISOString()],
  );
  for (const [name, ageDays] of [
    ['classifier-2025.pt', 200],
    ['classifier-2026.onnx', 10],
    ['embeddings.safetensors', 400],
    ['README.md', 400],
    ['notes.txt', 400],
  ] as const) {
    const file = join(root, 'models', name);
    await writeFile(file, name);
    const at = new Date(now.getTime() - ageDays * DAY);
    await utimes(file, at, at);
  }
  return records.length + 400;
}
