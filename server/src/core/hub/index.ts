// Hub metadata lookups (JSON only, no weight downloads) for references not on this machine.
export * from './hubMetadata';
