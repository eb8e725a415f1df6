import { runRetentionService } from '@retention/consumer';
import { analyticsService } from './service';

await runRetentionService(analyticsService);
