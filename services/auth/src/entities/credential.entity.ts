import { defineEntity, p } from '@mikro-orm/core';

/** A user's password, kept apart from the profile so that loading a user never loads its hash. */
export const CredentialSchema = defineEntity({
  name: 'Credential',
  tableName: 'credentials',
  properties: {
    userId: p.uuid().primary(),
    passwordHash: p.text(),
    updatedAt: p.datetime(),
  },
});
