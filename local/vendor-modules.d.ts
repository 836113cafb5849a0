/** Minimal declarations for the two emulators (they ship none). */
declare module 'dynalite' {
  import type { Server } from 'node:http';
  function dynalite(options?: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }): Server;
  export = dynalite;
}
declare module 'kinesalite' {
  import type { Server } from 'node:http';
  function kinesalite(options?: { path?: string; createStreamMs?: number; deleteStreamMs?: number; updateStreamMs?: number; shardLimit?: number }): Server;
  export = kinesalite;
}
