import type * as wire from './wire.js';
import type * as client from './types.js';
/** `T` with every field present and nothing `undefined`, all the way down. */
type Full<T> = T extends readonly (infer U)[] ? Full<U>[] : T extends object ? {
    [K in keyof T]-?: Full<Exclude<T[K], undefined>>;
} : T;
type Agree<Wire, Client> = [Exclude<keyof Wire, keyof Client>, Exclude<keyof Client, keyof Wire>] extends [never, never] ? Full<Wire> extends Full<Client> ? true : ['what the server sends does not fit the client type', Full<Wire>, Full<Client>] : ['fields only on the wire, fields only in the client', Exclude<keyof Wire, keyof Client>, Exclude<keyof Client, keyof Wire>];
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
    Assert<Agree<wire.SessionOptions, client.SessionOptions>>
];
export {};
