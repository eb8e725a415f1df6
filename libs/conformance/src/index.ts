export { type ConformanceOptions, ScenarioFailure, type ScenarioName, ScenarioNames } from './options';
export { type ConformanceReport, ConformanceUsageError, runConformance, type ScenarioResult } from './run-conformance';
export { formatReport } from './report';
export { main, type ConformanceIo } from './main';
