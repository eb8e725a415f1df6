import { runRetentionService } from '@retention/consumer';
import { newsletterService } from './service';

await runRetentionService(newsletterService);
