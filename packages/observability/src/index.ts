export * from './logger.js';
export * from './metrics.js';
export * from './ops-server.js';
export * from './lifecycle.js';
export * from './service.js';
