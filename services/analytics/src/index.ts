export { analyticsService } from './service';
export { AnalyticsEvent } from './analytics-event.entity';
export { policies } from './retention.policy';
export { seedDemoData } from './demo-data';
