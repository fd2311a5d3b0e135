export * from './stack.js';
export * from './fixtures.js';
export * from './clock.js';
export * from './proxy.js';
export * from './vitest.js';
export * from './emulator.js';
export * from './ledger.js';
