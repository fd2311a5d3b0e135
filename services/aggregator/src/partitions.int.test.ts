import { afterEach, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
import { startAggregator, type Aggregator } from './start.js';
import { setupCase, testConfig, type Case } from './testing/harness.js';

let c: Case | undefined;
let agg: Aggregator | undefined;
afterEach(async () => {
  await agg?.close();
  await c?.close();
  agg = undefined;
  c = undefined;
});

// Issue 13, item 2: a partition count below the topic's real one would leave the other partitions'
// usage out of every topic-wide freeze; above it, no hour would ever be frozen topic-wide.
describe('aggregator: usage topic partition count', () => {
  it.each([3, 1])(
    'refuses to start when MS_USAGE_TOPIC_PARTITIONS is %i and the topic has 2',
    async (configured) => {
      c = await setupCase('aggparts', 2);
      await expect(
        startAggregator(testConfig(c, { topicPartitions: configured }), {
          logger: testLogger('agg'),
        }),
      ).rejects.toThrow(
        `Kafka topic ${c.topic.topic} has 2 partitions but MS_USAGE_TOPIC_PARTITIONS is ${configured}`,
      );
    },
  );

  it('starts when the count matches', async () => {
    c = await setupCase('aggparts', 2);
    agg = await startAggregator(testConfig(c), { logger: testLogger('agg') });
    expect(agg).toBeDefined();
  });
});
