/** What a recovery mail says: the link to click, how long it works, and that it can be ignored. */
import { describe, expect, it } from 'vitest';
import type { MailKind } from '../src/mail/mail-job.ts';
import { renderMail } from '../src/mail/templates.ts';

const kinds: MailKind[] = ['verify_email', 'reset_password'];
const link = 'https://app.example/reset-password#token=0190a1b2.c3d4';

describe('a recovery mail tells the user what to click, for how long, and that they may ignore it', () => {
  for (const kind of kinds) {
    it(`${kind}: has a subject, the link once as the only link of the HTML, its validity, and the way out`, () => {
      const mail = renderMail(kind, { to: 'ada@example.com', link, expiresInMinutes: 30 });

      expect(mail.to).toBe('ada@example.com');
      expect(mail.subject).not.toBe('');
      for (const body of [mail.text, mail.html]) {
        expect(body).toContain('ada@example.com');
        expect(body).toContain('valid for 30 minutes');
        expect(body).toMatch(/you can ignore this mail/);
        expect(body).not.toMatch(/\{\{|\}\}/);
      }
      expect(mail.text).toContain(`\n${link}\n`);
      expect([...mail.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual([link]);
    });
  }

  it('says the validity in the unit a person would: minutes, hours or days', () => {
    const valid = (minutes: number) =>
      /valid for ([^.]+?) and/.exec(
        renderMail('verify_email', { to: 'a@b.c', link, expiresInMinutes: minutes }).text,
      )?.[1];
    expect(valid(1)).toBe('1 minute');
    expect(valid(90)).toBe('90 minutes');
    expect(valid(60)).toBe('1 hour');
    expect(valid(1440)).toBe('24 hours');
    expect(valid(7 * 1440)).toBe('7 days');
  });

  it('escapes every value it puts in the HTML, so an address or a link cannot add markup', () => {
    const to = '"<img src=x onerror=alert(1)>"@example.com';
    const sneaky = 'https://app.example/verify-email#token=a"><script>alert(1)</script>';
    const mail = renderMail('verify_email', { to, link: sneaky, expiresInMinutes: 60 });

    expect(mail.html).not.toContain('<img');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&quot;&lt;img src=x onerror=alert(1)&gt;&quot;@example.com');
    expect(mail.html).toContain('href="https://app.example/verify-email#token=a&quot;&gt;&lt;script&gt;');
    // The plain-text body is not HTML: there the values stay as they are.
    expect(mail.text).toContain(to);
    expect(mail.text).toContain(sneaky);
  });
});
