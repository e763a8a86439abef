/** What each project's global setup hands to its test files through vitest's provide/inject. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL with rights to create and drop databases. */
    databaseServerUrl: string;
    /** The migrated database every test file clones. */
    databaseTemplate: string;
    natsUrl: string;
  }
}

export {};
