import { MeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import type { Finding } from './reconcile.js';

/** A channel that tells people about a new finding. Throwing means "try again next run". */
export interface Notifier {
  readonly name: string;
  notify(finding: Finding): Promise<void>;
}

/** One line a person can act on; names keys, never payloads. */
export function describeFinding(f: Finding): string {
  if (f.kind === 'unparseable_event')
    return `[unparseable_event] ${f.eventIds.join(', ')}: ${f.detail}`;
  const hour = new Date(f.hourMs).toISOString().slice(0, 13);
  return `[${f.kind}] ${f.productCode} / ${f.customer} / ${f.dimension} / ${hour}h: ${f.detail}${
    f.eventIds.length ? ` (CloudTrail ${f.eventIds.join(', ')})` : ''
  }`;
}

/** Logs each finding as a warning (always on). */
export class LogNotifier implements Notifier {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}
  notify(f: Finding): Promise<void> {
    this.logger.warn(
      { findingId: f.id, kind: f.kind, productCode: f.productCode, eventIds: f.eventIds },
      describeFinding(f),
    );
    return Promise.resolve();
  }
}

/** Posts each finding to a Slack incoming webhook. */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';
  constructor(
    private readonly webhookUrl: string,
    private readonly timeoutMs = 10_000,
  ) {}
  async notify(f: Finding): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `:rotating_light: Meterstream audit: ${describeFinding(f)}` }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new MeterstreamError('NOTIFICATION_FAILED', 'Slack webhook unreachable', {
        cause: err,
      });
    }
    if (!res.ok)
      throw new MeterstreamError('NOTIFICATION_FAILED', `Slack webhook answered ${res.status}`);
  }
}
