export * from './time.js';
export * from './retry.js';
export * from './quantity.js';
export * from './aws.js';
