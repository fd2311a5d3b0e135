import {
  SchemaType,
  toKafkaError,
  toRegistryError,
  type KafkaProducer,
  type SchemaRegistry,
} from '@meterstream/kafka';
import {
  FREEZE_COMMAND_SCHEMA,
  KIND_HEADER,
  freezeCommandSubject,
  messageKey,
  type FreezeCommandValue,
} from './wire.js';
import { hourOf } from './hours.js';

const schemaIds = new WeakMap<SchemaRegistry, Map<string, number>>();

/**
 * Sends a {@link FreezeCommandValue} on the usage topic with the customer's key, so it is ordered
 * after the usage sent before it (the console's "submit now"). The aggregator then freezes that
 * hour of that key; later usage of the hour is carried to the next open hour.
 */
export async function produceFreezeCommand(
  producer: KafkaProducer,
  registry: SchemaRegistry,
  cmd: FreezeCommandValue,
  topic = 'usage.events',
): Promise<void> {
  const subject = freezeCommandSubject(topic);
  let ids = schemaIds.get(registry);
  if (!ids) schemaIds.set(registry, (ids = new Map()));
  let id = ids.get(subject);
  if (id === undefined) {
    try {
      ({ id } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(FREEZE_COMMAND_SCHEMA) },
        { subject },
      ));
    } catch (err) {
      throw toRegistryError(err, 'register FreezeCommand');
    }
    ids.set(subject, id);
  }
  const value = await registry.encode(id, { ...cmd, hour: hourOf(cmd.hour) });
  try {
    await producer.send(topic, [
      {
        key: messageKey(cmd.productCode, cmd.customer),
        value,
        headers: { [KIND_HEADER]: 'freeze' },
      },
    ]);
  } catch (err) {
    throw toKafkaError(err, 'send FreezeCommand');
  }
}
