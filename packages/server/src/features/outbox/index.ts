export { outboxRoutes, parseTimeCursor, toOutboxMessage } from './routes.js';
