/**
 * Preload for pg and kafkajs spans: `node --import @retention/observability/instrument main.js`.
 * kafkajs is imported as an ES module, which the instrumentations' require() hook never sees; this
 * registers import-in-the-middle's loader hook for it before the application's imports run.
 */
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { registerTracingInstrumentations } from './telemetry.js';

const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
registerTracingInstrumentations();
await waitForAllMessagesAcknowledged();
