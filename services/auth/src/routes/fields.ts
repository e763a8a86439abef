/** Request fields shared by several auth routes. */
import { codePointLength } from '@todo/platform/http';
import { z } from 'zod';

/** Trimmed and lower-cased before it is checked, so that `Ann@Example.com ` and `ann@example.com` are one account. */
export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(
    z.email({ message: 'Must be an email address.' }).max(254, { message: 'Must be at most 254 characters long.' }),
  );

/** NIST SP 800-63B: 12 to 256 characters, counted as the user sees them, and no composition rules. */
export const newPassword = z.string().superRefine(codePointLength({ min: 12, max: 256 }));
