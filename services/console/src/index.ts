export { buildConsole, type ConsoleDeps } from './server.js';
export { startConsole, type ConsoleHandle, type ConsoleStartDeps } from './start.js';
export { consoleEnvSchema, parseConsoleEnv, type ConsoleEnv } from './env.js';
export { authenticate, Csrf, hashPassword, loadUsers, parseUsers } from './auth.js';
export { CONSOLE_MIGRATIONS, migrateConsole } from './migrations.js';
export { MemoryData, FakeGateway } from './memory.js';
export * from './model.js';
export { hourOf, overage, parseQuantity, validateLines } from './validate.js';
