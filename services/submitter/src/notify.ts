import { smtpFromEnv, type SmtpConnection } from '@meterstream/config';
import { createTransport, type Transporter } from 'nodemailer';
import type { Plan } from '@meterstream/plans';
import type { Logger } from '@meterstream/observability';
import { MeterstreamError } from '@meterstream/errors';
import { retry } from '@meterstream/runtime';
import type { SubmitterEnv } from './env.js';
import type { LedgerRecord } from './ledger.js';
import type { SubmitterMetrics } from './metrics.js';

/** Notification settings. */
export interface NotifyConfig {
  smtp?: SmtpConnection | undefined;
  slackEnabled: boolean;
  attempts: number;
  timeoutMs: number;
  extraEmails: string[];
}

/** The notification settings from the submitter's environment. */
export function notifyConfigFromEnv(env: SubmitterEnv): NotifyConfig {
  return {
    smtp: smtpFromEnv(env),
    slackEnabled: env.MS_SLACK_ENABLED,
    attempts: env.MS_NOTIFY_ATTEMPTS,
    timeoutMs: env.MS_NOTIFY_TIMEOUT_MS,
    extraEmails: env.MS_NOTIFY_EXTRA_EMAILS.split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  };
}

/** What one product's notice says. */
export interface ProductSummary {
  productCode: string;
  runId: string;
  totals: Record<string, { records: number; quantity: number }>;
  records: LedgerRecord[];
}

/** Summarizes the records a run finished, per product. */
export function summarize(runId: string, records: readonly LedgerRecord[]): ProductSummary[] {
  const by = new Map<string, ProductSummary>();
  for (const r of records) {
    const s = by.get(r.productCode) ?? {
      productCode: r.productCode,
      runId,
      totals: {},
      records: [],
    };
    const t = (s.totals[r.state] ??= { records: 0, quantity: 0 });
    t.records++;
    t.quantity += r.quantity;
    s.records.push(r);
    by.set(r.productCode, s);
  }
  return [...by.values()];
}

const MAX_LINES = 50;

function line(r: LedgerRecord): string {
  return `${new Date(r.hour).toISOString()} ${r.customer} ${r.dimension} qty=${r.quantity} ${r.state}${r.reason ? ` (${r.reason})` : ''}`;
}

/** Plain-text email body: totals, then problems first, then the rest (capped). */
export function emailText(s: ProductSummary): string {
  const totals = Object.entries(s.totals)
    .map(([state, t]) => `  ${state}: ${t.records} records, ${t.quantity} units`)
    .join('\n');
  const sorted = [...s.records].sort(
    (a, b) => Number(a.state === 'accepted') - Number(b.state === 'accepted'),
  );
  const lines = sorted.slice(0, MAX_LINES).map(line);
  const more = sorted.length > MAX_LINES ? `\n… and ${sorted.length - MAX_LINES} more` : '';
  return `Meterstream submission run ${s.runId} for ${s.productCode}\n\nTotals:\n${totals}\n\nRecords:\n${lines.join('\n')}${more}\n`;
}

/** Slack incoming-webhook payload with Block Kit blocks. */
export function slackPayload(s: ProductSummary): Record<string, unknown> {
  const problems = s.records.filter((r) => r.state !== 'accepted');
  const totals = Object.entries(s.totals).map(([state, t]) => ({
    type: 'mrkdwn',
    text: `*${state}*\n${t.records} records, ${t.quantity} units`,
  }));
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: `Metering run ${s.productCode}` } },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `Run \`${s.runId}\`` },
      fields: totals.slice(0, 10),
    },
  ];
  if (problems.length > 0) {
    const text = problems
      .slice(0, 20)
      .map((r) => `• ${line(r)}`)
      .join('\n');
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*Needs attention*\n${text.slice(0, 2900)}` },
    });
  }
  const summary = Object.entries(s.totals)
    .map(([state, t]) => `${state}=${t.records}`)
    .join(' ');
  return { text: `Metering run ${s.runId} ${s.productCode}: ${summary}`, blocks };
}

/**
 * Sends notices per product to the plan's recipients. Never throws and is never awaited by
 * metering: a failing channel is retried, logged and counted, and changes no ledger record.
 */
export class Notifier {
  private readonly mailer: Transporter | undefined;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly config: NotifyConfig,
    private readonly metrics: SubmitterMetrics,
    private readonly logger: Logger,
  ) {
    const smtp = config.smtp;
    this.mailer = smtp
      ? createTransport({
          host: smtp.host,
          port: smtp.port,
          secure: smtp.secure,
          ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password } } : {}),
          connectionTimeout: config.timeoutMs,
          socketTimeout: config.timeoutMs,
          ignoreTLS: !smtp.secure,
        })
      : undefined;
  }

  /** Starts the notices of a run in the background. */
  notify(
    runId: string,
    records: readonly LedgerRecord[],
    plans: (code: string) => Plan | undefined,
  ): void {
    if (records.length === 0) return;
    for (const s of summarize(runId, records)) {
      const plan = plans(s.productCode);
      const emails = [...(plan?.notify.emails ?? []), ...this.config.extraEmails];
      if (this.mailer && emails.length > 0)
        this.track(this.retry('email', () => this.sendEmail(emails, s)));
      if (this.config.slackEnabled) {
        for (const hook of plan?.notify.slackWebhooks ?? [])
          this.track(this.retry('slack', () => this.sendSlack(hook, s)));
      }
    }
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Tries a notice `attempts` times, waiting 400 ms, 800 ms, … between tries; never throws. */
  private async retry(channel: 'email' | 'slack', op: () => Promise<void>): Promise<void> {
    const failed = (err: unknown, attempt: number, outcome: 'retried' | 'failed'): void => {
      this.metrics.notifications.inc({ channel, outcome });
      this.logger.warn({ err: (err as Error).message, channel, attempt }, 'notification failed');
    };
    try {
      await retry(op, {
        attempts: this.config.attempts,
        baseMs: 400,
        maxMs: Number.MAX_SAFE_INTEGER,
        jitter: 0,
        retriable: () => true,
        onRetry: (err, attempt) => failed(err, attempt + 1, 'retried'),
      });
      this.metrics.notifications.inc({ channel, outcome: 'sent' });
    } catch (err) {
      failed(err, this.config.attempts, 'failed');
    }
  }

  private async sendEmail(to: string[], s: ProductSummary): Promise<void> {
    const problems = s.records.filter((r) => r.state !== 'accepted').length;
    await this.mailer?.sendMail({
      from: this.config.smtp?.from,
      to: to.join(', '),
      subject: `[Meterstream] ${s.productCode}: ${s.records.length} records, ${problems} need attention (run ${s.runId})`,
      text: emailText(s),
    });
  }

  private async sendSlack(url: string, s: ProductSummary): Promise<void> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(slackPayload(s)),
      signal: AbortSignal.timeout(this.config.timeoutMs),
    });
    if (!res.ok)
      throw new MeterstreamError('NOTIFICATION_FAILED', `Slack webhook answered ${res.status}`);
  }

  /** Waits for notices in flight (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  close(): void {
    this.mailer?.close();
  }
}
