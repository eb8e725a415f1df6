import { runRetentionService } from '@retention/consumer';
import { ordersService } from './service';

await runRetentionService(ordersService);
