// The client's types (types.ts) checked against the wire's (wire.ts, generated from the protocol crate): this file
// compiles only while they agree, so `npm run lint` (tsc) fails on drift. For every body the client reads, the
// two have the same fields, and whatever the server sends (`wire`) fits what the client promises its caller
// (optional fields the client fills in itself, such as `ended`, are compared as if present). What the client
// sends is typed with the wire's request types where it is built (operations.ts, sandbox.ts).

import type * as wire from './wire.js';
import type * as client from './types.js';

/** `T` with every field present and nothing `undefined`, all the way down. */
type Full<T> = T extends readonly (infer U)[] ? Full<U>[] : T extends object ? { [K in keyof T]-?: Full<Exclude<T[K], undefined>> } : T;

type Agree<Wire, Client> = [Exclude<keyof Wire, keyof Client>, Exclude<keyof Client, keyof Wire>] extends [never, never]
  ? Full<Wire> extends Full<Client>
    ? true
    : ['what the server sends does not fit the client type', Full<Wire>, Full<Client>]
  : ['fields only on the wire, fields only in the client', Exclude<keyof Wire, keyof Client>, Exclude<keyof Client, keyof Wire>];

type Assert<T extends true> = T;

export type WireChecks = [
  Assert<Agree<wire.ExecResult, client.ExecResult>>,
  Assert<Agree<wire.ExecEvent, client.ExecEvent>>,
  Assert<Agree<wire.SessionInfo, client.SessionInfo>>,
  Assert<Agree<wire.SessionList, client.SessionList>>,
  Assert<Agree<wire.HistoryEntry, client.HistoryEntry>>,
  Assert<Agree<wire.SessionHistory, client.SessionHistory>>,
  Assert<Agree<wire.SetEnvVarsResult, client.SetEnvVarsResult>>,
  Assert<Agree<wire.FileInfo, client.FileInfo>>,
  Assert<Agree<wire.ListFilesResult, client.ListFilesResult>>,
  Assert<Agree<wire.ReadFileResult, client.ReadFileResult>>,
  Assert<Agree<wire.FileOpResult, client.FileOpResult>>,
  Assert<Agree<wire.UploadResult, client.UploadResult>>,
  Assert<Agree<wire.GitCheckoutResult, client.GitCheckoutResult>>,
  Assert<Agree<wire.WatchEvent, client.WatchEvent>>,
  Assert<Agree<wire.CheckChangesResult, client.CheckChangesResult>>,
  Assert<Agree<wire.MkdirResult, client.MkdirResult>>,
  Assert<Agree<wire.RenameResult, client.RenameFileResult>>,
  Assert<Agree<wire.ExistsResult, client.ExistsResult>>,
  Assert<Agree<wire.SandboxStatus, client.SandboxStatus>>,
  Assert<Agree<wire.DestroyResult, client.DestroyResult>>,
  Assert<Agree<wire.SessionOptions, client.SessionOptions>>,
];
