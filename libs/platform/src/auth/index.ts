export {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  acceptAccessToken,
  accessTokenClaimsSchema,
  CLOCK_TOLERANCE_SECONDS,
  type Principal,
} from './access-token.ts';
export { type RemoteKeys, type RemoteKeysOptions, remoteKeys } from './remote-keys.ts';
export {
  type AccessTokenOptions,
  type AuthState,
  type KeyResolver,
  requireAccessToken,
} from './require-access-token.ts';
export { followRevocations, type RevocationFeedOptions } from './revocation-feed.ts';
export { type RevocationCheck, RevocationList } from './revocations.ts';
