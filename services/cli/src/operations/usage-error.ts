/** Bad usage of an operations command (exit 2), as opposed to a failure of the brokers or the database (exit 1). */
export class UsageError extends Error {}
