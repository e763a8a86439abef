/**
 * What makes a new password acceptable (NIST SP 800-63B): 12 to 256 characters counted as the user sees
 * them (checked with the request), no composition rules, and nothing built from the account's email.
 */
import { ValidationError } from '@todo/platform/errors';

export function assertPasswordAcceptable(password: string, email: string): void {
  const localPart = email.split('@')[0] ?? '';
  if (localPart.length >= 3 && password.toLowerCase().includes(localPart)) {
    throw new ValidationError(
      [{ pointer: '/password', detail: 'The password must not contain the email address.' }],
      'The password is too easy to guess.',
    );
  }
}
