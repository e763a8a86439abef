/** Request fields shared by several auth routes. */
import { codePointLength } from '@todo/platform/http';
import { z } from 'zod';
import { normalizePassword } from '../domain/passwords.ts';

/** Trimmed and lower-cased before it is checked, so that `Ann@Example.com ` and `ann@example.com` are one account. */
export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(
    z.email({ message: 'Must be an email address.' }).max(254, { message: 'Must be at most 254 characters long.' }),
  );

/**
 * Any password as sent, new or current: at most 1,024 code points (what the API documents as `maxLength`),
 * refused before any work is done on it. A new password's own bounds apply to its normalised form.
 */
const MAX_PASSWORD_INPUT = 1024;
const passwordInput = () => z.string().superRefine(codePointLength({ min: 0, max: MAX_PASSWORD_INPUT }));

/** A password checked against the stored one only. */
export const currentPassword = passwordInput().min(1);

/**
 * NIST SP 800-63B: 12 to 256 characters, counted as the user sees them in the NFKC form that is hashed, and no
 * composition rules. A lone surrogate is not text (it would reach the hash as U+FFFD, so two passwords could be one).
 */
export const newPassword = passwordInput()
  .refine((s) => s.isWellFormed(), { message: 'Must be valid Unicode text.', abort: true })
  .transform(normalizePassword)
  .superRefine(codePointLength({ min: 12, max: 256 }));

/** A refresh token as sent: at most 512 code points; one of another shape is a refused grant, not a 422. */
export const refreshToken = z
  .string()
  .min(1)
  .superRefine(codePointLength({ min: 0, max: 512 }));
