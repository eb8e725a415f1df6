import { CoordinatorInitial1763800001000 } from './1763800001000-coordinator-initial';
import { HoldsAndSweeps1763800001100 } from './1763800001100-holds-and-sweeps';

export const coordinatorMigrations = [CoordinatorInitial1763800001000, HoldsAndSweeps1763800001100];
