import { v7 } from 'uuid';

/** UUIDv7: random enough to be unguessable, time-ordered so that ids sort by creation and index well. */
export const newId = (): string => v7();
