export { startCoordinator, type RunningCoordinator } from './app';
export { CoordinatorEnv, type CoordinatorConfig } from './config';
export { subjectRef } from './subject-ref';
