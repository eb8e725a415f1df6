export { newsletterService } from './service.js';
export { Subscriber } from './subscriber.entity.js';
