export { newsletterService } from './service';
export { Subscriber } from './subscriber.entity';
