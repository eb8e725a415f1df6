import { RetentionError } from '@retention/contracts';

/** The admin token that asked for an action tried to approve or reject it: 403. */
export class SelfApprovalError extends RetentionError {
  readonly code = 'approver_is_requester';
  readonly retriable = false;
}

/** A bulk erasure call of more subjects than one call may carry: 413. */
export class TooManySubjectsError extends RetentionError {
  readonly code = 'too_many_subjects';
  readonly retriable = false;
}
