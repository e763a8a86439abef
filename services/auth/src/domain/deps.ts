import type { Outbox } from '@todo/platform/events';
import type { KekRing } from '../keys/key-encryption.ts';
import type { BruteForceGuard } from '../limits/brute-force-guard.ts';
import type { AccessTokenIssuer } from './access-tokens.ts';
import type { PasswordHasher } from './passwords.ts';

/** What the auth use cases need besides the request's EntityManager; built once by the service. */
export interface AuthDeps {
  hasher: PasswordHasher;
  tokens: AccessTokenIssuer;
  /** The brute-force limits; each use case consults the ones that guard it. */
  guard: BruteForceGuard;
  /** Every change other services must learn of records its event here, in the transaction of the change. */
  outbox: Outbox;
  /** Seals session secrets at rest (AUTH_KEK), and opens them with the KEK that sealed them. */
  kek: KekRing;
  sessions: SessionSettings;
  recovery: RecoverySettings;
  /** Wakes the mail relay after a commit that wrote a mail job (it also polls). */
  mail: { notify(): void };
}

/** Email verification and password reset: where the links point, how long they live, whether login needs one. */
interface RecoverySettings {
  /** The web app hosting /verify-email and /reset-password. */
  publicAppUrl: string;
  verificationTtlSeconds: number;
  resetTtlSeconds: number;
  /** A login by a user whose address is not verified is refused. */
  requireVerifiedEmail: boolean;
}

/** How long sessions live and how a just-spent refresh token is treated. */
export interface SessionSettings {
  lifetimeSeconds: number;
  idleTimeoutSeconds: number;
  reuseIntervalSeconds: number;
}
