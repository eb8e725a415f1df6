import type { IHeaders } from 'kafkajs';

/** kafkajs headers as plain strings (the last value wins for repeated keys). */
export function headersToRecord(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[key] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}
