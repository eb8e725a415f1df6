export * from './outbox-message.entity';
export * from './outbox.migration';
export * from './outbox.repository';
export * from './outbox-relay';
