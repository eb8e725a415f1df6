import { CoordinatorInitial1763800001000 } from './1763800001000-coordinator-initial';
import { HoldsAndSweeps1763800001100 } from './1763800001100-holds-and-sweeps';
import { ServiceLifecycle1764600000300 } from './1764600000300-service-lifecycle';
import { IdempotencyKeyPerCaller1764600000700 } from './1764600000700-idempotency-key-per-caller';
import { Privacy1765300000700 } from './1765300000700-privacy';
import { LedgerProof1765000000400 } from './1765000000400-ledger-proof';
import { PolicyEnablement1765100000500 } from './1765100000500-policy-enablement';
import { SweepDefinitions1765400005000 } from './1765400005000-sweep-definitions';
import { HeldRequests1765200000600 } from './1765200000600-held-requests';
import { ErasureGrace1765400000800 } from './1765400000800-erasure-grace';
import { Approvals1765400000900 } from './1765400000900-approvals';
import { ErasureProbes1765600001000 } from './1765600001000-erasure-probes';
import { ErasureReplays1765600001100 } from './1765600001100-erasure-replays';
import { ExternalTargets1765700001200 } from './1765700001200-external-targets';

export const coordinatorMigrations = [
  CoordinatorInitial1763800001000,
  HoldsAndSweeps1763800001100,
  ServiceLifecycle1764600000300,
  IdempotencyKeyPerCaller1764600000700,
  LedgerProof1765000000400,
  PolicyEnablement1765100000500,
  HeldRequests1765200000600,
  Privacy1765300000700,
  ErasureProbes1765600001000,
  ErasureReplays1765600001100,
  SweepDefinitions1765400005000,
  ErasureGrace1765400000800,
  Approvals1765400000900,
  ExternalTargets1765700001200,
];
