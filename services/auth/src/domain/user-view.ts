import type { User } from '../entities/user.entity.ts';

/** The public shape of a user in every response. */
export interface UserView {
  id: string;
  email: string;
  name: string | null;
  /** Whether the user proved the address theirs through a verification link. */
  emailVerified: boolean;
  createdAt: string;
}

export const toUserView = (user: User): UserView => ({
  id: user.id,
  email: user.email,
  name: user.name ?? null,
  emailVerified: user.emailVerifiedAt != null,
  createdAt: user.createdAt.toISOString(),
});
