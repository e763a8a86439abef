/**
 * What makes a new password acceptable (NIST SP 800-63B): 12 to 256 characters counted as the user sees
 * them in NFKC form (checked with the request), no composition rules, not one of the passwords attackers try
 * first, and nothing built from the account's email.
 */
import { UnprocessableError, ValidationError } from '@todo/platform/errors';
import { dictionary } from '@zxcvbn-ts/language-common';
import { normalizePassword } from './passwords.ts';

/** NFKC form in lower case: how a password is compared with the list and the email. */
function fold(password: string): string {
  return normalizePassword(password).toLowerCase();
}

/**
 * zxcvbn's `passwords-common`: the 49,233 passwords seen more than ten times in Xato's ten million leaked
 * passwords, less those zxcvbn finds by pattern instead (repeats, sequences, keyboard walks such as
 * `aaaaaaaaaaaa` or `abcdefghijkl`, which this list therefore does not refuse). Built once, when the service
 * starts, in the folded form compared against. Entries shorter than the minimum length can never match, but they
 * cost little and keep the list right if the minimum changes.
 */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(dictionary['passwords-common'].map(fold));

/** `pointer` names the field the password came in (`/password`, `/newPassword`). */
export function assertPasswordAcceptable(password: string, email: string, pointer: string): void {
  const folded = fold(password);
  if (COMMON_PASSWORDS.has(folded)) {
    throw new UnprocessableError('The password is too easy to guess.', 'common_password', [
      { pointer, detail: 'This is one of the most commonly used passwords; choose another.' },
    ]);
  }
  const localPart = email.split('@')[0] ?? '';
  if (localPart.length >= 3 && folded.includes(localPart)) {
    throw new ValidationError(
      [{ pointer, detail: 'The password must not contain the email address.' }],
      'The password is too easy to guess.',
    );
  }
}
