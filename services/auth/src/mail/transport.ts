/**
 * Where mails go: the SMTP server of SMTP_URL (nodemailer), or, without one, the service's log, so that a developer
 * without a mail server still gets the links. The configuration refuses a missing SMTP_URL in production.
 */
import type { Logger } from '@todo/platform/logger';
import { createTransport } from 'nodemailer';

/** A mail as handed to the transport. */
interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<id@host>`: the same for every attempt at one job, so a receiver sees a resend as the same message. */
  messageId: string;
}

export interface MailTransport {
  /** Resolves once the server accepted the mail; rejects when it refused it or could not be reached. */
  sendMail(mail: OutgoingMail): Promise<unknown>;
  close(): void;
}

/**
 * A dead or silent server fails an attempt within seconds rather than nodemailer's minutes; the relay retries.
 * A query parameter of SMTP_URL (`?connectionTimeout=…`) overrides each, as it does any nodemailer SMTP option
 * (`?requireTLS=true` refuses a server that does not offer STARTTLS).
 */
const TIMEOUTS = {
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 30_000,
  dnsTimeout: 10_000,
};

/** A link's token, wherever it sits in a mail's text. */
const LINK_TOKEN = /#token=[^\s"'<>]+/g;

/**
 * The transport for SMTP_URL (smtp://: STARTTLS when offered; smtps://: TLS from the first byte). Without one,
 * mails are logged: with their links' tokens only when `revealLinks` (NODE_ENV=development, `npm start`: the
 * developer follows the link from the console); anywhere else the tokens are redacted, as in every log line.
 */
export function createMailTransport(
  smtpUrl: string | undefined,
  logger: Logger,
  { revealLinks = false }: { revealLinks?: boolean } = {},
): MailTransport {
  if (!smtpUrl) {
    logger.warn(
      revealLinks
        ? 'SMTP_URL is not set: mails are written to this log, links included, not sent (development only)'
        : 'SMTP_URL is not set: mails are written to this log with their links redacted, not sent',
    );
    return {
      async sendMail({ to, subject, text, messageId }) {
        const body = revealLinks ? text : text.replace(LINK_TOKEN, '#token=[redacted]');
        logger.info({ mail: { to, subject, messageId, text: body } }, 'mail logged, not sent (no SMTP_URL)');
      },
      close() {},
    };
  }
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  // Host and port only: the URL's user info holds the SMTP password.
  logger.info(
    { smtp: { host: url.hostname, port: Number(url.port) || (secure ? 465 : 587), secure } },
    'mail goes to the SMTP server',
  );
  // The URL's own settings (its query parameters) win over these.
  return createTransport({ ...TIMEOUTS, url: smtpUrl });
}
