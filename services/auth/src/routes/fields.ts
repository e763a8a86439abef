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
 * NIST SP 800-63B: 12 to 256 characters, counted as the user sees them in the NFKC form that is hashed, and no
 * composition rules. A lone surrogate is not text (it would reach the hash as U+FFFD, so two passwords could be one).
 */
export const newPassword = z
  .string()
  .refine((s) => s.isWellFormed(), { message: 'Must be valid Unicode text.', abort: true })
  .transform(normalizePassword)
  .superRefine(codePointLength({ min: 12, max: 256 }));
