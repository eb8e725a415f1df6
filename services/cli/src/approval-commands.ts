import type { Command } from 'commander';
import type { ApiClient } from './api-client';

/**
 * `retention approvals list|show|approve|reject`: the four-eyes queue. An admin token other than
 * the one that asked must approve or reject (the API answers 403 `approver_is_requester` otherwise).
 */
export function registerApprovalCommands(program: Command, client: () => ApiClient, print: (value: unknown) => void): void {
  const approvals = program
    .command('approvals')
    .description('actions waiting for a second admin (RETENTION_APPROVALS): first real sweeps, bulk erasures, hold releases');
  approvals
    .command('list')
    .description('pending approvals, newest first')
    .option('--status <status>', 'pending, approved, rejected or all', 'pending')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: { status: string; limit: string }) =>
      print(await client().call('GET', `/v1/approvals?${new URLSearchParams({ status: o.status, limit: o.limit })}`)),
    );
  approvals
    .command('show')
    .argument('<id>')
    .action(async (id: string) => print(await client().call('GET', `/v1/approvals/${encodeURIComponent(id)}`)));
  for (const decision of ['approve', 'reject'] as const) {
    approvals
      .command(decision)
      .description(decision === 'approve' ? 'carry the action out now (another admin asked for it)' : 'send nothing (another admin asked for it)')
      .argument('<id>')
      .option('--note <text>', 'why (its HMAC goes in the ledger)')
      .action(async (id: string, o: { note?: string }) =>
        print(await client().call('POST', `/v1/approvals/${encodeURIComponent(id)}/${decision}`, { body: o.note ? { note: o.note } : {} })),
      );
  }
}
