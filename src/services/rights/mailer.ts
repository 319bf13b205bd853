// The mailer port: SMTP through nodemailer when configured, otherwise a local outbox folder; plus the rights-request messages (it/en).
import { randomUUID } from 'node:crypto';
import { closeSync, fchmodSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { PRIVATE_FILE, privateDir } from '../../store/file-modes.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** What the message is for (`rights.verification`, …): the only thing about it that is logged. */
  kind: string;
  /** The rights request the message is about: a mailer that keeps copies (the outbox) drops them when it closes. */
  requestId?: string | undefined;
  /** The delivery queue it waits in when queued (src/services/destinations/queued-mailer.ts); default: its request's. */
  queue?: string | undefined;
}

/** A copy of a message the mailer still holds: the request it is about (null: none known) and when it was written. */
export interface HeldMail {
  requestId: string | null;
  writtenAt: number;
}

export interface Mailer {
  send(msg: MailMessage): Promise<void>;
  /** The copies this mailer holds (the outbox's files); a mailer that keeps none leaves this out. */
  held?(): Promise<HeldMail[]>;
  /** Deletes held copies about these requests (`null`: about no known request), all or those written before `before`. */
  forget?(requestIds: readonly (string | null)[], before?: number): Promise<number>;
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

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NO_REQUEST = 'none';
/**
 * `<time>_<request id | none>_<random>.eml`: the request id in the name is how a closed request's files are found.
 * Files named `<time>-<random>.eml` come from versions that did not record the request: about none.
 */
const OUTBOX_NAME = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z(?:_([0-9a-f-]{36}|none)_|-)[0-9a-f-]{36}\.eml$/;

/**
 * No SMTP configured: each message becomes an RFC 5322 file in `<dataDir>/outbox/` (folder 0700, files 0600), for a
 * developer or an operator's own delivery. The file name carries the request the message is about, so that the
 * file is deleted when the request closes (and by the rights sweep a while after). The log names the file and the
 * kind of message, never the address or the code.
 */
export class OutboxMailer implements Mailer {
  constructor(
    readonly dir: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {}
  async send(msg: MailMessage): Promise<void> {
    privateDir(this.dir);
    const about = msg.requestId !== undefined && REQUEST_ID.test(msg.requestId) ? msg.requestId : NO_REQUEST;
    const file = join(this.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}_${about}_${randomUUID()}.eml`);
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
    const fd = openSync(file, 'wx', PRIVATE_FILE);
    try {
      // The mode passed to open is cut by the umask; fchmod's is not.
      fchmodSync(fd, PRIVATE_FILE);
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
    this.logger.info({ kind: msg.kind, outbox: file }, 'mail written to the outbox (no SMTP configured)');
  }

  async held(): Promise<HeldMail[]> {
    return this.#files().map(({ requestId, path }) => ({ requestId, writtenAt: statSync(path).mtimeMs }));
  }

  async forget(requestIds: readonly (string | null)[], before?: number): Promise<number> {
    const wanted = new Set(requestIds);
    let deleted = 0;
    for (const { requestId, path } of this.#files()) {
      if (!wanted.has(requestId)) continue;
      try {
        if (before !== undefined && statSync(path).mtimeMs >= before) continue;
        unlinkSync(path);
        deleted++;
      } catch (err) {
        // Deleted meanwhile by another process sweeping the same folder.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    if (deleted > 0) this.logger.info({ deleted }, 'outbox mail deleted');
    return deleted;
  }

  /** The outbox's message files (others in the folder are not ours to touch). */
  #files(): { requestId: string | null; path: string }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: { requestId: string | null; path: string }[] = [];
    for (const name of names) {
      const match = OUTBOX_NAME.exec(name);
      if (!match) continue;
      const about = match[1];
      out.push({ requestId: about === undefined || about === NO_REQUEST ? null : about, path: join(this.dir, name) });
    }
    return out;
  }
}

export const DEFAULT_MAIL_FROM = 'Fiducia <no-reply@localhost>';

export function createMailer(opts: { smtpUrl?: string | undefined; from?: string | undefined; dataDir: string; logger: Logger }): Mailer {
  const from = opts.from ?? DEFAULT_MAIL_FROM;
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
        text: `Abbiamo ricevuto una richiesta di ${what} per questo indirizzo email.\n\nIl tuo codice di verifica è: ${code}\n\nVale ${ttlMinutes} minuti. Non comunicarlo a nessuno: chi lo inserisce vede l'esito della richiesta, e per una richiesta di accesso i tuoi dati. Se non hai fatto tu la richiesta, ignora questo messaggio: senza il codice non succede nulla.\n\n${controller}`,
      }
    : {
        to,
        kind: 'rights.verification',
        subject: `${controller}: verification code ${code}`,
        text: `We received a request for ${what} for this email address.\n\nYour verification code is: ${code}\n\nIt is valid for ${ttlMinutes} minutes. Do not share it with anyone: whoever enters it sees the outcome of the request, and for an access request your data. If you did not make this request, ignore this message: without the code nothing happens.\n\n${controller}`,
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
