// A minimal SMTP server on loopback for mail tests (RFC 5321's plain dialogue, no TLS, no AUTH): records each message.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SmtpMessage {
  from: string;
  to: string[];
  data: string;
}

export class SmtpServer {
  readonly messages: SmtpMessage[] = [];
  /** Reply code for RCPT TO (250 accepts; 550 refuses permanently, 451 for now). */
  rcptReply = 250;
  port = 0;
  #server: Server | null = null;

  async start(port = 0): Promise<this> {
    const server = createServer((socket) => this.#session(socket));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #session(socket: Socket): void {
    let buffer = '';
    let inData = false;
    let current: SmtpMessage = { from: '', to: [], data: '' };
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 test ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            this.messages.push(current);
            current = { from: '', to: [], data: '' };
            reply('250 queued');
          } else current.data += `${line.startsWith('..') ? line.slice(1) : line}\n`;
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') reply('250 test');
        else if (verb === 'MAIL') {
          current.from = line.slice(10).replace(/[<>]/g, '').split(' ')[0] ?? '';
          reply('250 ok');
        } else if (verb === 'RCPT') {
          if (this.rcptReply !== 250) reply(`${this.rcptReply} not now`);
          else {
            current.to.push(line.slice(8).replace(/[<>]/g, ''));
            reply('250 ok');
          }
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 go on');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
        } else if (verb === 'RSET' || verb === 'NOOP') reply('250 ok');
        else reply('502 not implemented');
      }
    });
    socket.on('error', () => undefined);
  }
}
