import { Kafka, logLevel, type KafkaConfig, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

export { Kafka } from 'kafkajs';
export { toKafkaError } from './errors.js';
export type { TopicSpec } from './client.js';
export type {
  Admin,
  Consumer,
  Producer,
  EachBatchPayload,
  KafkaMessage,
  Message,
  IHeaders,
} from 'kafkajs';

/** Options for {@link createKafka}. */
export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** Extra kafkajs settings (retry, timeouts). */
  config?: Partial<KafkaConfig>;
}

/** Bridges kafkajs's logger into our pino logger (kafkajs INFO is chatty: it becomes debug). */
function pinoLogCreator(logger: Logger): logCreator {
  const child = logger.child({ module: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level === logLevel.ERROR) child.error(extra, message);
      else if (level === logLevel.WARN) child.warn(extra, message);
      else child.debug(extra, message);
    };
}

/** A kafkajs client wired to our logger. */
export function createKafka(options: KafkaOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(options.logger),
    ...options.config,
  });
}
