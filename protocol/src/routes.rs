//! Every route of the protocol, spelled once.
//!
//! The paths are the agent's. The Worker serves each sandbox's routes under `/v1/sandboxes/{id}` (`sandboxed`:
//! `/v1/exec` is `/v1/sandboxes/{id}/exec`), and the clients name them by what follows that prefix
//! (`under_sandbox`). `{id}` in a path is a session id. The JavaScript client gets the same table, generated
//! (`typescript::module`).

/// The agent's liveness, version and boot id; the Worker answers its own at the same path.
pub const HEALTH: &str = "/v1/health";
/// `POST` creates a session, `GET` lists them.
pub const SESSIONS: &str = "/v1/sessions";
/// `GET` shows a session, `DELETE` ends it.
pub const SESSION: &str = "/v1/sessions/{id}";
pub const SESSION_HISTORY: &str = "/v1/sessions/{id}/history";
pub const ENV: &str = "/v1/env";
pub const EXEC: &str = "/v1/exec";
pub const EXEC_STREAM: &str = "/v1/exec/stream";
pub const EXEC_CANCEL: &str = "/v1/exec/cancel";
/// `GET` lists the commands in flight, queued or running (`?sessionId=`).
pub const COMMANDS: &str = "/v1/commands";
pub const FILES_LIST: &str = "/v1/files/list";
pub const FILES_WRITE: &str = "/v1/files/write";
pub const FILES_READ: &str = "/v1/files/read";
pub const FILES_MKDIR: &str = "/v1/files/mkdir";
pub const FILES_DELETE: &str = "/v1/files/delete";
pub const FILES_RENAME: &str = "/v1/files/rename";
pub const FILES_MOVE: &str = "/v1/files/move";
pub const FILES_EXISTS: &str = "/v1/files/exists";
/// A file's bytes as the body: `GET` reads them (`FileContentQuery`), `PUT` replaces the file with them
/// (`FileUploadQuery`). Not bound by the 32 MiB of a JSON body.
pub const FILES_CONTENT: &str = "/v1/files/content";
/// `GET`: a path's changes as server-sent events (`WatchQuery`, `WatchEvent`).
pub const WATCH: &str = "/v1/watch";
/// `POST`: what changed since a cursor (`CheckChangesRequest`, `checkChanges`).
pub const WATCH_CHANGES: &str = "/v1/watch/changes";
/// `DELETE`: ends the watch of that `watchId`.
pub const WATCH_ONE: &str = "/v1/watch/{id}";
/// `POST`: clones a repository into the sandbox (`GitCheckoutRequest`).
pub const GIT_CHECKOUT: &str = "/v1/git/checkout";
/// `POST` starts a background process, `GET` lists them (`?status=`), `DELETE` kills them all.
pub const PROCESSES: &str = "/v1/processes";
/// `GET` shows a process, `DELETE` kills it (`?signal=`).
pub const PROCESS: &str = "/v1/processes/{id}";
pub const PROCESS_LOGS: &str = "/v1/processes/{id}/logs";
/// Its output as server-sent events, replayed from an offset and then live.
pub const PROCESS_STREAM: &str = "/v1/processes/{id}/stream";
pub const PROCESS_STDIN: &str = "/v1/processes/{id}/stdin";
pub const PROCESS_WAIT: &str = "/v1/processes/{id}/wait";
/// A terminal: `GET` upgraded to a WebSocket (`?cols=&rows=&sessionId=&ptyId=`).
pub const PTY: &str = "/v1/pty";
/// `GET` lists the terminals.
pub const PTYS: &str = "/v1/ptys";
/// `DELETE` ends a terminal and its whole process group.
pub const PTY_ONE: &str = "/v1/ptys/{id}";
/// The sandbox's exposed ports (the Worker's own): `POST` exposes one, `GET` lists them.
pub const PORTS: &str = "/v1/ports";
/// `DELETE` stops exposing the port `{id}`.
pub const PORT: &str = "/v1/ports/{id}";
/// The agent's own way to a port in its sandbox, for a preview's request in local mode (a local sandbox's network
/// is its own, so the Worker cannot reach the port directly): any method; what follows the prefix is the path the
/// app sees. Not a client route.
pub const PORT_HTTP: &str = "/v1/ports/{port}/http";
/// `PORT_HTTP` with a path after it, and with the slash alone.
pub const PORT_HTTP_PATH: &str = "/v1/ports/{port}/http/{*path}";
pub const PORT_HTTP_ROOT: &str = "/v1/ports/{port}/http/";
/// The agent's counters in the Prometheus text format.
pub const METRICS: &str = "/v1/metrics";
/// The sandbox itself: `GET` its status (the Worker), `DELETE` destroys it.
pub const SANDBOX: &str = "/v1/sandbox";
/// Local mode (the host agent): `POST` stops the sandbox's jail (its processes and sessions end) and keeps its
/// folder; its next call starts it anew. The Durable Object's idle stop, as a container's is stopped deployed. Not
/// a client route.
pub const SANDBOX_STOP: &str = "/v1/sandbox/stop";
/// A sandbox's backups in the store: `POST` makes one (`createBackup`), `GET` lists them.
pub const BACKUPS: &str = "/v1/backups";
/// `DELETE`: forgets a backup.
pub const BACKUP: &str = "/v1/backups/{id}";
/// `POST`: restores a backup (`restoreBackup`).
pub const BACKUP_RESTORE_ONE: &str = "/v1/backups/{id}/restore";
/// The sandbox's own sleep settings (`SleepSettings`): `GET` them, `PUT` a `SleepRequest` (`setKeepAlive`,
/// `setSleepAfter`). The Durable Object's, no agent.
pub const SLEEP: &str = "/v1/sleep";
/// `POST`: forks the sandbox (`ForkRequest`).
pub const FORK: &str = "/v1/fork";
/// `POST` from a fork's origin to the new sandbox's object (`ForkAdopt`); not a client route.
pub const FORK_ADOPT: &str = "/v1/fork/adopt";
/// Backups (the Durable Object's calls, never a client's: not in `ALL`, so the Worker refuses them from callers).
/// `POST`: reads a directory for a save (`BackupScanRequest`), answering `BackupScan`.
pub const BACKUP_SCANS: &str = "/v1/backup/scans";
/// `DELETE`: forgets a save that will not be committed.
pub const BACKUP_SCAN: &str = "/v1/backup/scans/{id}";
/// `GET`: the save's manifest (binary).
pub const BACKUP_SCAN_MANIFEST: &str = "/v1/backup/scans/{id}/manifest";
/// `GET`: one blob of the save (binary; cut short if a file changed since the scan).
pub const BACKUP_SCAN_BLOB: &str = "/v1/backup/scans/{id}/blobs/{hash}";
/// `POST`: the save is stored; the next one starts from it.
pub const BACKUP_SCAN_COMMIT: &str = "/v1/backup/scans/{id}/commit";
/// `GET`: the blobs the agent counts as stored (`BackupKnown`), which a collection of the store must keep.
pub const BACKUP_KNOWN: &str = "/v1/backup/known";
/// `POST` a manifest (binary; `?dir=`): begins a restore, answering `BackupRestore`.
pub const BACKUP_RESTORES: &str = "/v1/backup/restores";
/// `DELETE`: abandons a restore; the directory is as it was.
pub const BACKUP_RESTORE: &str = "/v1/backup/restores/{id}";
/// `PUT`: one blob the restore needs (binary), checked against its hash.
pub const BACKUP_RESTORE_BLOB: &str = "/v1/backup/restores/{id}/blobs/{hash}";
/// `POST`: puts the restored tree in place of the directory's contents.
pub const BACKUP_RESTORE_COMMIT: &str = "/v1/backup/restores/{id}/commit";
/// `GET` the network policy in effect and its decisions; `PUT` a new policy (`NetworkPolicy`).
pub const NETWORK_POLICY: &str = "/v1/network/policy";
/// `GET` the sandbox's secrets (never their values); `PUT` one (`SetSecretRequest`), made or replaced by name.
pub const SECRETS: &str = "/v1/network/secrets";
/// `DELETE`: the secret of that name is no longer sent.
pub const SECRET: &str = "/v1/network/secrets/{id}";
/// The Worker's prefix of one sandbox's routes; the sandbox id follows.
pub const SANDBOXES_PREFIX: &str = "/v1/sandboxes/";
/// The part every agent path begins with, which the Worker replaces with the sandbox's prefix.
const VERSION_PREFIX: &str = "/v1";

/// One route: its name in the generated JavaScript table, its methods and its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub name: &'static str,
    pub methods: &'static [&'static str],
    pub path: &'static str,
}

/// Every route a sandbox serves (the Worker's own health route aside, which shares the agent's path).
pub const ALL: &[Route] = &[
    Route { name: "health", methods: &["GET"], path: HEALTH },
    Route { name: "sessions", methods: &["GET", "POST"], path: SESSIONS },
    Route { name: "session", methods: &["GET", "DELETE"], path: SESSION },
    Route { name: "sessionHistory", methods: &["GET"], path: SESSION_HISTORY },
    Route { name: "env", methods: &["POST"], path: ENV },
    Route { name: "exec", methods: &["POST"], path: EXEC },
    Route { name: "execStream", methods: &["POST"], path: EXEC_STREAM },
    Route { name: "execCancel", methods: &["POST"], path: EXEC_CANCEL },
    Route { name: "commands", methods: &["GET"], path: COMMANDS },
    Route { name: "filesList", methods: &["POST"], path: FILES_LIST },
    Route { name: "filesWrite", methods: &["POST"], path: FILES_WRITE },
    Route { name: "filesRead", methods: &["POST"], path: FILES_READ },
    Route { name: "filesMkdir", methods: &["POST"], path: FILES_MKDIR },
    Route { name: "filesDelete", methods: &["POST"], path: FILES_DELETE },
    Route { name: "filesRename", methods: &["POST"], path: FILES_RENAME },
    Route { name: "filesMove", methods: &["POST"], path: FILES_MOVE },
    Route { name: "filesExists", methods: &["POST"], path: FILES_EXISTS },
    Route { name: "filesContent", methods: &["GET", "PUT"], path: FILES_CONTENT },
    Route { name: "gitCheckout", methods: &["POST"], path: GIT_CHECKOUT },
    Route { name: "watch", methods: &["GET"], path: WATCH },
    Route { name: "watchChanges", methods: &["POST"], path: WATCH_CHANGES },
    Route { name: "watchOne", methods: &["DELETE"], path: WATCH_ONE },
    Route { name: "processes", methods: &["GET", "POST", "DELETE"], path: PROCESSES },
    Route { name: "process", methods: &["GET", "DELETE"], path: PROCESS },
    Route { name: "processLogs", methods: &["GET"], path: PROCESS_LOGS },
    Route { name: "processStream", methods: &["GET"], path: PROCESS_STREAM },
    Route { name: "processStdin", methods: &["POST"], path: PROCESS_STDIN },
    Route { name: "processWait", methods: &["POST"], path: PROCESS_WAIT },
    Route { name: "pty", methods: &["GET"], path: PTY },
    Route { name: "ptys", methods: &["GET"], path: PTYS },
    Route { name: "ptyOne", methods: &["DELETE"], path: PTY_ONE },
    Route { name: "ports", methods: &["GET", "POST"], path: PORTS },
    Route { name: "port", methods: &["DELETE"], path: PORT },
    Route { name: "metrics", methods: &["GET"], path: METRICS },
    Route { name: "sandbox", methods: &["GET", "DELETE"], path: SANDBOX },
    Route { name: "backups", methods: &["GET", "POST"], path: BACKUPS },
    Route { name: "backup", methods: &["DELETE"], path: BACKUP },
    Route { name: "backupRestore", methods: &["POST"], path: BACKUP_RESTORE_ONE },
    Route { name: "fork", methods: &["POST"], path: FORK },
    Route { name: "sleep", methods: &["GET", "PUT"], path: SLEEP },
    Route { name: "networkPolicy", methods: &["GET", "PUT"], path: NETWORK_POLICY },
    Route { name: "secrets", methods: &["GET", "PUT"], path: SECRETS },
    Route { name: "secret", methods: &["DELETE"], path: SECRET },
];

/// What a client appends to its sandbox's prefix for the agent path `path` (`/exec` for `/v1/exec`; the sandbox
/// itself is the prefix alone).
pub fn under_sandbox(path: &str) -> &str {
    if path == SANDBOX {
        return "";
    }
    path.strip_prefix(VERSION_PREFIX).unwrap_or(path)
}

/// The public route `path` (an agent path, with ids in place of `{id}`) is, if any: what the Worker serves under
/// a sandbox, so that a path it does not serve is refused with the caller's own words.
pub fn find(path: &str) -> Option<&'static Route> {
    let given: Vec<&str> = path.split('/').collect();
    ALL.iter().find(|route| {
        let pattern: Vec<&str> = route.path.split('/').collect();
        pattern.len() == given.len()
            && pattern.iter().zip(&given).all(|(p, g)| (p.starts_with('{') && !g.is_empty()) || p == g)
    })
}

/// Whether a call's body is a stream of any size (an upload), which no JSON limit bounds.
pub fn streams_body(method: &str, path: &str) -> bool {
    method == "PUT" && path == FILES_CONTENT
}

/// The agent path the Worker's `rest` (what follows `/v1/sandboxes/{id}/`, empty for the sandbox itself) names.
pub fn agent_path(rest: Option<&str>) -> String {
    match rest {
        Some(rest) => format!("{VERSION_PREFIX}/{rest}"),
        None => SANDBOX.to_string(),
    }
}

/// The agent path that passes a request for `path` (without its query) to `port` in the sandbox; the app's root
/// is the prefix alone.
pub fn port_http(port: u16, path: &str) -> String {
    let path = if path == "/" { "" } else { path };
    format!("{}{path}", PORT_HTTP.replace("{port}", &port.to_string()))
}

/// The port and the app's path of an agent path made by `port_http`.
pub fn parse_port_http(path: &str) -> Option<(u16, &str)> {
    let rest = path.strip_prefix("/v1/ports/")?;
    let (port, rest) = rest.split_once('/')?;
    let app_path = rest.strip_prefix("http")?;
    let port = port.parse().ok().filter(|p| *p > 0)?;
    match app_path {
        "" => Some((port, "/")),
        p if p.starts_with('/') => Some((port, p)),
        _ => None,
    }
}

/// `path` with its `{id}` filled in.
pub fn with_id(path: &str, id: &str) -> String {
    path.replace("{id}", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_finds_its_route_with_ids_in_place() {
        assert_eq!(find("/v1/exec").map(|r| r.name), Some("exec"));
        assert_eq!(find("/v1/sessions/s1/history").map(|r| r.name), Some("sessionHistory"));
        assert_eq!(find("/v1/ptys/p-1").map(|r| r.name), Some("ptyOne"));
        assert!(find("/v1/run").is_none());
        assert!(find("/v1/sessions//history").is_none());
        assert!(find("/v1/sandbox/stop").is_none(), "the agent's own routes are not public");
        assert!(find("/v1/ports/8080/http").is_none());
    }

    #[test]
    fn client_and_worker_paths_map_back_to_the_agents() {
        for route in ALL.iter().filter(|r| r.path != HEALTH) {
            let rest = under_sandbox(route.path);
            let back = agent_path(rest.strip_prefix('/'));
            assert_eq!(back, route.path, "{}", route.name);
        }
        assert_eq!(under_sandbox(EXEC), "/exec");
        assert_eq!(under_sandbox(SANDBOX), "");
        assert_eq!(with_id(SESSION_HISTORY, "s1"), "/v1/sessions/s1/history");
    }

    #[test]
    fn a_port_path_carries_the_apps_path_whole() {
        assert_eq!(port_http(8080, "/a/b"), "/v1/ports/8080/http/a/b");
        assert_eq!(port_http(8080, "/"), "/v1/ports/8080/http");
        assert_eq!(parse_port_http("/v1/ports/8080/http/a/b"), Some((8080, "/a/b")));
        assert_eq!(parse_port_http("/v1/ports/8080/http"), Some((8080, "/")));
        assert_eq!(parse_port_http("/v1/ports/8080/http/"), Some((8080, "/")));
        assert_eq!(parse_port_http("/v1/ports/8080/httpx"), None);
        assert_eq!(parse_port_http("/v1/ports/0/http/"), None);
        assert_eq!(parse_port_http("/v1/ports/99999/http/"), None);
        assert_eq!(parse_port_http("/v1/ports/x/http/"), None);
    }

    #[test]
    fn names_and_paths_are_unique() {
        let mut names: Vec<_> = ALL.iter().map(|r| r.name).collect();
        let mut paths: Vec<_> = ALL.iter().map(|r| r.path).collect();
        names.sort_unstable();
        paths.sort_unstable();
        names.dedup();
        paths.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(paths.len(), ALL.len());
    }
}
