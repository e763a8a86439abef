/**
 * The mails' words: one plain-text and one HTML template per kind, in templates/, with `{{name}}` placeholders.
 * A ten-line replace rather than a template engine: the templates have three values and no logic, and every value
 * placed in the HTML is escaped here, so an address such as `"<b>"@example.com` stays text.
 */
import { readFileSync } from 'node:fs';
import type { Mail, MailKind } from './mail-job.ts';

export interface MailValues {
  to: string;
  /** The page that uses the token; the only thing the user has to click. */
  link: string;
  expiresInMinutes: number;
}

const subjects: Record<MailKind, string> = {
  verify_email: 'Confirm your email address',
  reset_password: 'Reset your password',
};

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);

/** Read once, on first use (they are part of the image: services/<svc>/src is copied whole). */
const cache = new Map<string, string>();
function template(kind: MailKind, format: 'txt' | 'html'): string {
  const name = `${kind}.${format}`;
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./templates/${name}`, import.meta.url), 'utf8');
    cache.set(name, text);
  }
  return text;
}

function fill(text: string, values: Record<string, string>, encode: (value: string) => string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new TypeError(`mail template placeholder {{${name}}} has no value`);
    return encode(value);
  });
}

/** "30 minutes", "1 hour", "24 hours", "7 days". */
function duration(minutes: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (minutes >= 2 * 1440 && minutes % 1440 === 0) return unit(minutes / 1440, 'day');
  if (minutes >= 60 && minutes % 60 === 0) return unit(minutes / 60, 'hour');
  return unit(minutes, 'minute');
}

export function renderMail(kind: MailKind, { to, link, expiresInMinutes }: MailValues): Mail {
  const values = { to, link, expiresIn: duration(expiresInMinutes) };
  return {
    to,
    subject: subjects[kind],
    text: fill(template(kind, 'txt'), values, (value) => value),
    html: fill(template(kind, 'html'), values, escapeHtml),
  };
}
