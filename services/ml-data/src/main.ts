import { runRetentionService } from '@retention/consumer';
import { mlDataService } from './service';

await runRetentionService(mlDataService);
