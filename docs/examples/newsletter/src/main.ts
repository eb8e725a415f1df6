import { runRetentionService } from '@retention/consumer';
import { newsletterService } from './service.js';

await runRetentionService(newsletterService);
