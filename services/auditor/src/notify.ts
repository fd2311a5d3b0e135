import type { SmtpConnection } from '@meterstream/config';
import { createTransport, type Transporter } from 'nodemailer';
import { MeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import type { Finding } from './reconcile.js';

/**
 * A channel that tells people about new findings, one digest per audit run. Throwing means "try
 * again next run": the findings stay un-notified until every channel took them.
 */
export interface Notifier {
  readonly name: string;
  notify(findings: readonly Finding[]): Promise<void>;
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

/** The digest text of a batch of findings (Slack and email). */
export function digest(findings: readonly Finding[], limit = 50): string {
  const lines = findings.slice(0, limit).map((f) => `• ${describeFinding(f)}`);
  if (findings.length > limit) lines.push(`… and ${findings.length - limit} more`);
  return [
    `Meterstream audit: ${findings.length} new finding(s) (ledger vs CloudTrail, or usage not conserved from events to ledger).`,
    ...lines,
    'Run `meterstream audit report --from … --to …` for the summary, `meterstream audit explain <id> --note …` once understood.',
  ].join('\n');
}

/** Logs each finding as a warning (always on). */
export class LogNotifier implements Notifier {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}
  notify(findings: readonly Finding[]): Promise<void> {
    for (const f of findings) {
      this.logger.warn(
        { findingId: f.id, kind: f.kind, productCode: f.productCode, eventIds: f.eventIds },
        describeFinding(f),
      );
    }
    return Promise.resolve();
  }
}

/** Posts a digest to a Slack incoming webhook. */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';
  constructor(
    private readonly webhookUrl: string,
    private readonly timeoutMs = 10_000,
  ) {}
  async notify(findings: readonly Finding[]): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `:rotating_light: ${digest(findings)}` }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new MeterstreamError('NOTIFICATION_FAILED', 'Slack webhook unreachable', {
        cause: err,
      });
    }
    if (!res.ok) {
      throw new MeterstreamError('NOTIFICATION_FAILED', `Slack webhook answered ${res.status}`);
    }
  }
}

/** SMTP settings of {@link EmailNotifier}: the server, its recipients and a timeout. */
export interface SmtpConfig extends SmtpConnection {
  to: readonly string[];
  timeoutMs?: number;
}

/** Mails a digest through SMTP (nodemailer). */
export class EmailNotifier implements Notifier {
  readonly name = 'email';
  private readonly mailer: Transporter;
  constructor(private readonly smtp: SmtpConfig) {
    this.mailer = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password } } : {}),
      connectionTimeout: smtp.timeoutMs ?? 10_000,
      socketTimeout: smtp.timeoutMs ?? 10_000,
      ignoreTLS: !smtp.secure,
    });
  }
  async notify(findings: readonly Finding[]): Promise<void> {
    const kinds = [...new Set(findings.map((f) => f.kind))].join(', ');
    try {
      await this.mailer.sendMail({
        from: this.smtp.from,
        to: [...this.smtp.to],
        subject: `Meterstream audit: ${findings.length} new finding(s) (${kinds})`,
        text: digest(findings),
      });
    } catch (err) {
      throw new MeterstreamError('NOTIFICATION_FAILED', 'SMTP delivery failed', { cause: err });
    }
  }
  close(): void {
    this.mailer.close();
  }
}
