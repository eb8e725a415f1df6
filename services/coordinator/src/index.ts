export { startCoordinator, type RunningCoordinator } from './app';
export { coordinatorDatabaseMigrations, openCoordinatorDatabase } from './database';
export { CoordinatorEnv, type CoordinatorConfig } from './config';
export { subjectRef } from './subject-ref';
export { ROLE_MATRIX, type RouteKey } from './http/role-matrix';
// The ledger's building blocks (the ledger benchmark drives them without Kafka).
export { appendLedger, type LedgerEntryInput } from './ledger/ledger.repository';
export { createCheckpointPublisher, type CheckpointOutcome } from './ledger/checkpoint-publisher';
export { verifyLedger, type VerifyResult, type LedgerProblem } from './ledger/verify-ledger';
export { frontierFromLedger, leavesFromLedger } from './ledger/ledger-tree';
