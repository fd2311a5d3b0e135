import { describe, expect, it } from 'vitest';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { CachingDefaultPartitioner } from './partitioner.js';

describe('CachingDefaultPartitioner', () => {
  it('chooses what the default partitioner chooses, also after the partition count changes', () => {
    const cached = CachingDefaultPartitioner();
    const plain = Partitioners.DefaultPartitioner();
    for (const n of [6, 6, 3, 12]) {
      const partitionMetadata = Array.from({ length: n }, (_, i) => ({
        partitionId: i,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (let i = 0; i < 500; i++) {
        const args = {
          topic: 't',
          partitionMetadata,
          message: { key: `product-${i % 3}|customer-${i}`, value: null },
        } satisfies PartitionerArgs;
        expect(cached(args)).toBe(plain(args));
      }
    }
  });
});
