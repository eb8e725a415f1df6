import { runRetentionService } from '@retention/consumer';
import { sessionsService } from './service';

await runRetentionService(sessionsService);
