import type { User } from '../entities/user.entity.ts';

/** The public shape of a user in every response. */
export interface UserView {
  id: string;
  email: string;
  name: string | null;
  createdAt: string;
}

export const toUserView = (user: User): UserView => ({
  id: user.id,
  email: user.email,
  name: user.name ?? null,
  createdAt: user.createdAt.toISOString(),
});
