export * from './outbox-message.entity';
export * from './outbox.migration';
export * from './outbox.repository';
export * from './outbox-relay';
export * from './outbox-parking.migration';
export * from './outbox-metrics';
