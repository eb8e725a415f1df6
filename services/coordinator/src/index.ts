export { startCoordinator, type RunningCoordinator } from './app';
export { CoordinatorEnv, type CoordinatorConfig } from './config';
export { subjectRef } from './subject-ref';
export { ROLE_MATRIX, type RouteKey } from './http/role-matrix';
