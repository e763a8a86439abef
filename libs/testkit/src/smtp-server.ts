/**
 * A real SMTP server that belongs to one test file: it accepts every message (no authentication, no TLS), parses
 * it as a mail client would and keeps it, so a story can read the mail a user received and follow its link. It
 * can be stopped (connections are then refused) and started again on the same port, for stories about an SMTP
 * outage. A message is kept before the server answers the DATA command, so once the sender has its 250 the
 * message is in `messages`.
 */
import getPort from 'get-port';
import { simpleParser } from 'mailparser';
import pTimeout from 'p-timeout';
import { SMTPServer } from 'smtp-server';

/** A message as the recipient's mail client shows it, plus the SMTP envelope it came with. */
export interface ReceivedMail {
  /** The envelope recipients (RCPT TO), lower-cased: who the message was delivered to. */
  recipients: string[];
  /** The `From` header's address. */
  from: string | undefined;
  subject: string;
  text: string;
  html: string;
  /** The `Message-ID` header, angle brackets included. */
  messageId: string | undefined;
}

export type TestSmtpServer = Awaited<ReturnType<typeof startSmtpServer>>;

export async function startSmtpServer() {
  const port = await getPort();
  const messages: ReceivedMail[] = [];
  const listeners = new Set<(mail: ReceivedMail) => void>();
  let server: SMTPServer | undefined;

  const keep = (mail: ReceivedMail) => {
    messages.push(mail);
    for (const listener of listeners) listener(mail);
  };

  const start = async () => {
    if (server) throw new TypeError(`the SMTP server on port ${port} is already running`);
    const smtp = new SMTPServer({
      authOptional: true,
      // The server would offer STARTTLS with a self-signed certificate, which a verifying client refuses.
      hideSTARTTLS: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 1_000,
      onData(stream, session, callback) {
        simpleParser(stream).then(
          (parsed) => {
            keep({
              recipients: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
              from: parsed.from?.value[0]?.address,
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: parsed.html || '',
              messageId: parsed.messageId,
            });
            callback();
          },
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      },
    });
    await new Promise<void>((resolve, reject) => {
      smtp.server.once('error', reject);
      smtp.listen(port, '127.0.0.1', () => {
        smtp.server.off('error', reject);
        resolve();
      });
    });
    server = smtp;
  };

  /** Stops listening (new connections are refused) and closes the open ones. */
  const stop = async () => {
    const smtp = server;
    if (!smtp) return;
    server = undefined;
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  };

  /** The first message delivered to `to` (already received or still to come); fails after `timeoutMs`. */
  const waitForMail = (to: string, { timeoutMs = 15_000 }: { timeoutMs?: number } = {}): Promise<ReceivedMail> => {
    const address = to.toLowerCase();
    const isFor = (mail: ReceivedMail) => mail.recipients.includes(address);
    const received = messages.find(isFor);
    if (received) return Promise.resolve(received);
    let listener: ((mail: ReceivedMail) => void) | undefined;
    const arrival = new Promise<ReceivedMail>((resolve) => {
      listener = (mail) => {
        if (isFor(mail)) resolve(mail);
      };
      listeners.add(listener);
    });
    return pTimeout(arrival, {
      milliseconds: timeoutMs,
      message: `no mail for ${to} within ${timeoutMs} ms (received for: ${messages.flatMap((m) => m.recipients).join(', ') || 'nobody'})`,
    }).finally(() => {
      if (listener) listeners.delete(listener);
    });
  };

  await start();
  return {
    /** `smtp://127.0.0.1:<port>`, as SMTP_URL. */
    url: `smtp://127.0.0.1:${port}`,
    port,
    /** Every message received since the server was created, in order. */
    messages,
    /** The messages delivered to `to`. */
    mailsTo: (to: string) => messages.filter((mail) => mail.recipients.includes(to.toLowerCase())),
    waitForMail,
    stop,
    /** Listens again on the same port. */
    start,
    close: stop,
  };
}
