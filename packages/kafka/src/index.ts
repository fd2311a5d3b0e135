export * from './kafka.js';
export * from './registry.js';
export * from './client.js';
export * from './topics.js';
export * from './murmur2.js';
export { CachingMurmur2Partitioner, KafkajsClient, KafkajsAdmin } from './kafkajs.js';
export { PlatformaticClient } from './platformatic.js';
