export { buildConsole, type ConsoleDeps } from './app.js';
export { consoleEnvSchema, parseConsoleEnv, type ConsoleEnv } from './env.js';
export { authenticate, Csrf, hashPassword, loadUsers, parseUsers } from './auth.js';
export { MemoryData, FakeGateway } from './memory.js';
export * from './model.js';
export { formatMicros, hourOf, overage, parseQuantity, validateLines } from './validate.js';
