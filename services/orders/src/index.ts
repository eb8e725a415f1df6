export { ordersService } from './service';
export { Order } from './order.entity';
export { policies } from './retention.policy';
export { seedDemoData } from './demo-data';
