import { runRetentionService } from '@retention/consumer';
import { supportService } from './service';

await runRetentionService(supportService);
