import { OutboxEventSchema } from '@todo/platform/events';
import { CredentialSchema } from './credential.entity.ts';
import { SessionSchema } from './session.entity.ts';
import { SigningKeySchema } from './signing-key.entity.ts';
import { UserSchema } from './user.entity.ts';

export const entities = [UserSchema, CredentialSchema, SessionSchema, SigningKeySchema, OutboxEventSchema];
