export * from './stack.js';
export * from './fixtures.js';
export * from './clock.js';
