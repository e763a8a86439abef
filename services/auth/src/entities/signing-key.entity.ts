import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * A token-signing key pair. The private half is stored encrypted with the key-encryption key
 * (AES-256-GCM); the public half is what the JWKS publishes.
 */
export const SigningKeySchema = defineEntity({
  name: 'SigningKey',
  tableName: 'signing_keys',
  properties: {
    kid: p.text().primary(),
    alg: p.text(),
    publicJwk: p.json<Record<string, unknown>>(),
    privateJwkSealed: p.blob(),
    createdAt: p.datetime(),
    /** Signing starts here: one JWKS cache period after creation, so every verifier already knows the key. */
    activatesAt: p.datetime(),
  },
});

export type SigningKey = InferEntity<typeof SigningKeySchema>;
