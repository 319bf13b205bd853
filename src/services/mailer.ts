// The mailer port: SMTP through nodemailer when configured, otherwise a local outbox folder; plus the rights-request messages (it/en).
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** What the message is for (`rights.verification`, …): the only thing about it that is logged. */
  kind: string;
}

export interface Mailer {
  send(msg: MailMessage): Promise<void>;
}

/** SMTP (`FIDUCIA_SMTP_URL`, e.g. `smtps://user:pass@mail.example.com`). */
export class SmtpMailer implements Mailer {
  readonly #transport: Transporter;
  constructor(
    url: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {
    this.#transport = nodemailer.createTransport(url);
  }
  async send(msg: MailMessage): Promise<void> {
    await this.#transport.sendMail({ from: this.from, to: msg.to, subject: msg.subject, text: msg.text });
    this.logger.info({ kind: msg.kind }, 'mail sent');
  }
}

/**
 * No SMTP configured: each message becomes an RFC 5322 file in `<dataDir>/outbox/` (0600), for a developer or an
 * operator's own delivery. The log names the file and the kind of message, never the address or the code.
 */
export class OutboxMailer implements Mailer {
  constructor(
    readonly dir: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {}
  async send(msg: MailMessage): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`);
    const header = (v: string) => v.replace(/[\r\n]+/g, ' ');
    const body = [
      `From: ${header(this.from)}`,
      `To: ${header(msg.to)}`,
      `Subject: =?UTF-8?B?${Buffer.from(msg.subject, 'utf8').toString('base64')}?=`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      `X-Fiducia-Kind: ${msg.kind}`,
      '',
      msg.text,
      '',
    ].join('\r\n');
    writeFileSync(file, body, { mode: 0o600 });
    this.logger.info({ kind: msg.kind, outbox: file }, 'mail written to the outbox (no SMTP configured)');
  }
}

export function createMailer(opts: { smtpUrl?: string | undefined; from?: string | undefined; dataDir: string; logger: Logger }): Mailer {
  const from = opts.from ?? 'Fiducia <no-reply@localhost>';
  return opts.smtpUrl ? new SmtpMailer(opts.smtpUrl, from, opts.logger) : new OutboxMailer(join(opts.dataDir, 'outbox'), from, opts.logger);
}

// ---- messages ----

type Lang = 'it' | 'en';

const TYPE_NAMES: Record<Lang, Record<string, string>> = {
  it: {
    access: 'accesso ai dati',
    portability: 'portabilità dei dati',
    rectification: 'rettifica',
    erasure: 'cancellazione',
    restriction: 'limitazione del trattamento',
    objection: 'opposizione',
  },
  en: {
    access: 'access to your data',
    portability: 'data portability',
    rectification: 'rectification',
    erasure: 'erasure',
    restriction: 'restriction of processing',
    objection: 'objection',
  },
};

export function verificationMessage(to: string, lang: Lang, controller: string, type: string, code: string, ttlMinutes: number): MailMessage {
  const what = TYPE_NAMES[lang][type] ?? type;
  return lang === 'it'
    ? {
        to,
        kind: 'rights.verification',
        subject: `${controller}: codice di verifica ${code}`,
        text: `Abbiamo ricevuto una richiesta di ${what} per questo indirizzo email.\n\nIl tuo codice di verifica è: ${code}\n\nVale ${ttlMinutes} minuti. Se non hai fatto tu la richiesta, ignora questo messaggio: senza il codice non succede nulla.\n\n${controller}`,
      }
    : {
        to,
        kind: 'rights.verification',
        subject: `${controller}: verification code ${code}`,
        text: `We received a request for ${what} for this email address.\n\nYour verification code is: ${code}\n\nIt is valid for ${ttlMinutes} minutes. If you did not make this request, ignore this message: without the code nothing happens.\n\n${controller}`,
      };
}

export function completionMessage(
  to: string,
  lang: Lang,
  controller: string,
  type: string,
  status: 'completed' | 'rejected' | 'in_progress' | 'verified',
  download: { url: string; expiresAt: number } | null,
): MailMessage {
  const what = TYPE_NAMES[lang][type] ?? type;
  const expires = download ? new Date(download.expiresAt).toISOString().slice(0, 10) : '';
  if (lang === 'it') {
    const state = status === 'completed' ? 'è stata eseguita' : status === 'rejected' ? 'non è stata accolta' : 'è in lavorazione: ti risponderemo entro i termini di legge';
    return {
      to,
      kind: 'rights.outcome',
      subject: `${controller}: la tua richiesta di ${what}`,
      text: `La tua richiesta di ${what} ${state}.${download ? `\n\nPuoi scaricare i tuoi dati fino al ${expires} da questo link personale:\n${download.url}` : ''}\n\n${controller}`,
    };
  }
  const state = status === 'completed' ? 'has been carried out' : status === 'rejected' ? 'was not granted' : 'is being handled: we will answer within the legal deadline';
  return {
    to,
    kind: 'rights.outcome',
    subject: `${controller}: your request for ${what}`,
    text: `Your request for ${what} ${state}.${download ? `\n\nYou can download your data until ${expires} from this personal link:\n${download.url}` : ''}\n\n${controller}`,
  };
}
