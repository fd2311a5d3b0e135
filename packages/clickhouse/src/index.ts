export * from './escape.js';
export * from './client.js';
export * from './ddl.js';
export * from './migrations.js';
