export * from './stack.js';
export * from './fixtures.js';
