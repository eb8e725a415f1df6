/**
 * Why a consumer refused a message: the code in a dead letter's `reason.code` and in its
 * `x-retention-dlq-reason` header. Stable codes, never data (they are metric labels too). The
 * AsyncAPI document lists them from here; docs/protocol.md says which a service must use.
 */
export const DeadLetterReasons = {
  validation_failed:
    'The value is not JSON, not a CloudEvents envelope as documented, or its data does not match the schema of its type and major version; also a tombstone (null value) where the topic has none.',
  unsupported_version: 'An event type the consumer does not handle on this topic, or a major version of `dataschema` it does not know.',
  signature_missing: 'One of the headers x-retention-key-id, x-retention-signed-at, x-retention-signature is absent.',
  unknown_signing_key: 'The key id is not one the consumer trusts for this topic.',
  signature_invalid:
    'The Ed25519 signature does not verify over the signing input, or x-retention-signed-at is not exactly an ISO 8601 UTC instant with milliseconds.',
  signature_stale: 'A command signed longer ago than the accepted age (default one day): a replay.',
  signature_from_future: 'Signed later than now plus the tolerated clock skew (default 5 minutes).',
  signer_mismatch: 'Signed by a trusted key of another party than the message speaks for (an ack for another service, a registration keyed by another name).',
  seal_invalid: 'A sealed subject id (or a wrapped command key) does not open with its key and associated data.',
  command_key_unknown: 'A sealed subject id names a command key the consumer never saw or has destroyed.',
  cutoff_in_future: "A sweep whose asOf lies later than now plus the consumer's clock skew.",
  unknown_request: 'Coordinator: an ack for a request it did not create.',
  unknown_target: 'Coordinator: an ack from a service that is not a target of the request.',
  mismatch: "Coordinator: an ack whose kind or dryRun differs from the request's.",
  contradiction: 'Coordinator: an ack that contradicts what the target already reported.',
  pending_conflict: 'Coordinator: a registration with another key while one waits for approval.',
  too_many_pending_registrations: 'Coordinator: too many registrations wait for approval.',
  verify_failed: 'The signature check itself failed in a way no retry fixes.',
  handler_failed: 'The handler failed with an error no retry fixes (a programming error).',
} as const;

export type DeadLetterReason = keyof typeof DeadLetterReasons;

export const DeadLetterReasonCodes = Object.keys(DeadLetterReasons) as DeadLetterReason[];
