import type { GroupHooks, TopicPartitions } from './client.js';

/**
 * The partitions one group member owns, and the order of its hooks: everything owned is revoked
 * (once) before the next assignment is announced, whichever event of the client came first.
 */
export class GroupTracker {
  private current: TopicPartitions = {};
  private joins = 0;

  constructor(private readonly hooks: GroupHooks) {}

  /** Local generation: increases with every assignment of this member. */
  get generation(): number {
    return this.joins;
  }

  /** Whether this member owns `partition` of `topic` now. */
  owns(topic: string, partition: number): boolean {
    return this.current[topic]?.includes(partition) ?? false;
  }

  /** Gives everything up (idempotent: nothing owned, no hook). */
  revoke(): void {
    const owned = this.current;
    if (Object.values(owned).every((ps) => ps.length === 0)) return;
    this.current = {};
    this.hooks.onRevoked?.(owned);
  }

  /** A new assignment: revokes the previous one first, then announces this one. */
  assign(partitions: TopicPartitions): void {
    this.revoke();
    this.joins++;
    const copy: TopicPartitions = {};
    for (const [topic, ps] of Object.entries(partitions)) {
      copy[topic] = [...ps].map(Number).sort((a, b) => a - b);
    }
    this.current = copy;
    this.hooks.onAssigned?.({ generation: this.joins, partitions: copy });
  }
}
