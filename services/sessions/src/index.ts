export { sessionsService } from './service';
export { Session } from './session.entity';
export { seedDemoData } from './demo-data';
