export * from './kafka.js';
export * from './registry.js';
