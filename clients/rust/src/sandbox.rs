//! `get_sandbox` and `Sandbox`: one sandbox by id, its sessions and its end. Its command, file and variable
//! methods are its default session's (`Sandbox` derefs to it).

use std::ops::Deref;
use std::sync::Arc;

use std::time::Duration;

use sandbox_protocol::{
    Backup, BackupList, CreateBackupRequest, DeleteResult, DestroyResult, ExposePortRequest, ExposedPort,
    ExposedPortList, ForkRequest, ForkResult, NetworkPolicy, NetworkState, PtyInfo, PtyList, RestoreBackupRequest,
    RestoreBackupResult, SandboxStatus, SecretInfo, SecretList, SessionInfo, SessionList, SessionOptions,
    SetSecretRequest, SleepRequest, SleepSettings, UnexposePortResult, DEFAULT_SESSION_ID,
};

use crate::connection::{at, at_id, Connection};
use crate::error::{Error, Result};
use crate::session::ExecutionSession;
use crate::transport::Transport;
use sandbox_protocol::routes;

/// The sandbox named `id` (1-63 characters, DNS-label rules) through `transport`: a service binding
/// (`env.service("SANDBOX")?`) or a `RemoteUrl`. Nothing is sent until the first call.
pub fn get_sandbox<T: Transport>(transport: T, id: &str) -> Sandbox<T> {
    Sandbox::new(transport, id, None)
}

/// Where a secret goes (`set_secret`): its hosts (names, `*.` subdomains, addresses, ports optional), and the
/// header and format it is written with (`Authorization`, `Bearer {}` when `None`).
#[derive(Debug, Clone, Default)]
pub struct SecretOptions {
    pub hosts: Vec<String>,
    pub header: Option<String>,
    pub format: Option<String>,
}

pub struct Sandbox<T> {
    id: String,
    default: ExecutionSession<T>,
}

impl<T: Transport> Sandbox<T> {
    fn new(transport: T, id: &str, token: Option<String>) -> Self {
        let connection = Arc::new(Connection::new(transport, id, token));
        Sandbox { id: id.to_string(), default: ExecutionSession::new(connection, DEFAULT_SESSION_ID.to_string()) }
    }

    /// The same sandbox, sending `Authorization: Bearer <token>` (when the Worker has `SANDBOX_API_TOKEN`).
    pub fn with_token(self, token: &str) -> Self {
        let Sandbox { id, default } = self;
        let connection = Arc::into_inner(default.connection).expect("a new sandbox's connection is not shared yet");
        Sandbox {
            id,
            default: ExecutionSession::new(Arc::new(connection.with_token(token)), DEFAULT_SESSION_ID.to_string()),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Creates a session: an isolated shell with its own variables, directory and history.
    pub async fn create_session(&self, options: SessionOptions) -> Result<ExecutionSession<T>> {
        let info: SessionInfo = self.connection().call("POST", at(routes::SESSIONS), Some(&options)).await?;
        Ok(ExecutionSession::new(Arc::clone(self.connection()), info.id))
    }

    /// An existing session; `SESSION_NOT_FOUND` when there is none with that id.
    pub async fn get_session(&self, id: &str) -> Result<ExecutionSession<T>> {
        let info: SessionInfo = self.connection().call("GET", &at_id(routes::SESSION, id)?, None::<&()>).await?;
        Ok(ExecutionSession::new(Arc::clone(self.connection()), info.id))
    }

    pub async fn list_sessions(&self) -> Result<SessionList> {
        self.connection().call("GET", at(routes::SESSIONS), None::<&()>).await
    }

    /// Ends the session's shell and every process it started.
    pub async fn delete_session(&self, id: &str) -> Result<DeleteResult> {
        self.connection().call("DELETE", &at_id(routes::SESSION, id)?, None::<&()>).await
    }

    /// Serves `port` of the sandbox to browsers at a preview URL (`{port}-{id}-{token}.<preview host>`); exposing it
    /// again keeps the URL.
    pub async fn expose_port(&self, port: u16, name: Option<&str>) -> Result<ExposedPort> {
        let req = ExposePortRequest { port, name: name.map(str::to_string), hostname: None };
        self.connection().call("POST", at(routes::PORTS), Some(&req)).await
    }

    /// Stops serving the port: its preview URL answers 404 from then on.
    pub async fn unexpose_port(&self, port: u16) -> Result<UnexposePortResult> {
        self.connection().call("DELETE", &at_id(routes::PORT, &port.to_string())?, None::<&()>).await
    }

    /// Saves a directory (the workspace when `options.dir` is `None`) to the backup store: its files, modes,
    /// symlinks, empty directories and mtimes, content-addressed. `BACKUPS_NOT_CONFIGURED` without a bucket.
    pub async fn create_backup(&self, options: CreateBackupRequest) -> Result<Backup> {
        self.connection().call("POST", at(routes::BACKUPS), Some(&options)).await
    }

    /// Puts the backup's tree in place of a directory's contents (the one it was made from when `dir` is `None`),
    /// all at once once every part has arrived and been checked; on a failure the directory is as it was.
    pub async fn restore_backup(&self, id: &str, dir: Option<&str>) -> Result<RestoreBackupResult> {
        let req = RestoreBackupRequest { dir: dir.map(str::to_string) };
        self.connection().call("POST", &at_id(routes::BACKUP_RESTORE_ONE, id)?, Some(&req)).await
    }

    /// The sandbox's backups that have not expired, newest first.
    pub async fn list_backups(&self) -> Result<Vec<Backup>> {
        let list: BackupList = self.connection().call("GET", at(routes::BACKUPS), None::<&()>).await?;
        Ok(list.backups)
    }

    /// Forgets a backup; restoring it then fails with `BACKUP_NOT_FOUND`.
    pub async fn delete_backup(&self, id: &str) -> Result<DeleteResult> {
        self.connection().call("DELETE", &at_id(routes::BACKUP, id)?, None::<&()>).await
    }

    pub async fn get_exposed_ports(&self) -> Result<Vec<ExposedPort>> {
        let list: ExposedPortList = self.connection().call("GET", at(routes::PORTS), None::<&()>).await?;
        Ok(list.ports)
    }

    /// The sandbox's terminals (open with `terminal` or `open_terminal`, feature `worker`), with how many viewers
    /// each has now.
    pub async fn list_terminals(&self) -> Result<Vec<PtyInfo>> {
        let list: PtyList = self.connection().call("GET", at(routes::PTYS), None::<&()>).await?;
        Ok(list.ptys)
    }

    /// Ends a terminal and everything started in it; its viewers get `exit`. `PTY_NOT_FOUND` when there is none.
    pub async fn kill_terminal(&self, pty_id: &str) -> Result<DeleteResult> {
        self.connection().call("DELETE", &at_id(routes::PTY_ONE, pty_id)?, None::<&()>).await
    }

    /// A new sandbox `new_id` whose workspace starts as this one's: its latest save (the workspace is saved first),
    /// or the backup named. From then on the two go their own ways. `SANDBOX_ALREADY_EXISTS` when `new_id` is in
    /// use.
    pub async fn fork(&self, new_id: &str, backup: Option<&str>) -> Result<Sandbox<T>>
    where
        T: Clone,
    {
        let req = ForkRequest { new_id: new_id.to_string(), backup: backup.map(str::to_string) };
        let forked: ForkResult = self.connection().call("POST", at(routes::FORK), Some(&req)).await?;
        let connection = Arc::new(self.connection().for_sandbox(&forked.id));
        Ok(Sandbox { id: forked.id, default: ExecutionSession::new(connection, DEFAULT_SESSION_ID.to_string()) })
    }

    /// `true`: the sandbox is never stopped for being idle, until `set_keep_alive(false)` or `destroy` (its saves
    /// still run). The sandbox keeps the setting, for every caller.
    pub async fn set_keep_alive(&self, keep_alive: bool) -> Result<SleepSettings> {
        let req = SleepRequest { keep_alive: Some(keep_alive), sleep_after: None };
        self.connection().call("PUT", at(routes::SLEEP), Some(&req)).await
    }

    /// How long the sandbox may go without a call before it sleeps (a week at most); `None` for the sandbox
    /// Worker's `SANDBOX_SLEEP_AFTER` again. The sandbox keeps it, for every caller.
    pub async fn set_sleep_after(&self, after: Option<Duration>) -> Result<SleepSettings> {
        let sleep_after = Some(after.map_or_else(|| "default".to_string(), |d| format!("{}ms", d.as_millis())));
        let req = SleepRequest { keep_alive: None, sleep_after };
        self.connection().call("PUT", at(routes::SLEEP), Some(&req)).await
    }

    /// The sleep settings in effect.
    pub async fn sleep_settings(&self) -> Result<SleepSettings> {
        self.connection().call("GET", at(routes::SLEEP), None::<&()>).await
    }

    /// What the sandbox's code may reach (`allow`/`deny`: host names, `*.` subdomains, addresses and networks, each
    /// optionally with a port; `internet`: every host no rule names, by default unless `allow` names hosts). It
    /// replaces the policy in effect, for connections opened after it; the sandbox keeps it across restarts.
    pub async fn set_network_policy(&self, policy: &NetworkPolicy) -> Result<NetworkState> {
        self.connection().call("PUT", at(routes::NETWORK_POLICY), Some(policy)).await
    }

    /// The network policy in effect, whether it is enforced, and what it allowed and refused.
    pub async fn network_policy(&self) -> Result<NetworkState> {
        self.connection().call("GET", at(routes::NETWORK_POLICY), None::<&()>).await
    }

    /// The SDK's `setAllowedHosts`: only these hosts are reachable (the deny list in effect is kept).
    pub async fn set_allowed_hosts(&self, hosts: &[&str]) -> Result<NetworkState> {
        let deny = self.network_policy().await?.policy.deny;
        let allow = hosts.iter().map(|h| h.to_string()).collect();
        self.set_network_policy(&NetworkPolicy { internet: Some(false), allow, deny }).await
    }

    /// The SDK's `setDeniedHosts`: these hosts are never reachable (the rest of the policy in effect is kept).
    pub async fn set_denied_hosts(&self, hosts: &[&str]) -> Result<NetworkState> {
        let policy = self.network_policy().await?.policy;
        let deny = hosts.iter().map(|h| h.to_string()).collect();
        self.set_network_policy(&NetworkPolicy { deny, ..policy }).await
    }

    /// A secret the sandbox's code uses without seeing it: the answer's `placeholder` goes where the secret would;
    /// the sandbox's egress proxy sends `value` instead, in `options.header` written as `options.format`
    /// (`Authorization: Bearer {}` by default), on requests to `options.hosts` only. Setting a name again replaces
    /// its secret and keeps its placeholder.
    pub async fn set_secret(&self, name: &str, value: &str, options: SecretOptions) -> Result<SecretInfo> {
        let req = SetSecretRequest {
            name: name.to_string(),
            value: value.to_string(),
            hosts: options.hosts,
            header: options.header,
            format: options.format,
            placeholder: None,
        };
        let list: SecretList = self.connection().call("PUT", at(routes::SECRETS), Some(&req)).await?;
        list.secrets
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::InvalidResponse(format!("the secret {name} is not in the sandbox's list")))
    }

    /// The sandbox's secrets: names, placeholders, hosts, headers; never their values.
    pub async fn list_secrets(&self) -> Result<Vec<SecretInfo>> {
        let list: SecretList = self.connection().call("GET", at(routes::SECRETS), None::<&()>).await?;
        Ok(list.secrets)
    }

    /// The secret is sent no more.
    pub async fn delete_secret(&self, name: &str) -> Result<Vec<SecretInfo>> {
        let path = at_id(routes::SECRET, name)?;
        let list: SecretList = self.connection().call("DELETE", &path, None::<&()>).await?;
        Ok(list.secrets)
    }

    /// Whether the sandbox's container runs, in which mode, what it is doing, and its last stop, save and restore.
    pub async fn status(&self) -> Result<SandboxStatus> {
        self.connection().call("GET", at(routes::SANDBOX), None::<&()>).await
    }

    /// Ends every session and process, stops the container and forgets the sandbox's state.
    pub async fn destroy(&self) -> Result<DestroyResult> {
        self.connection().call("DELETE", at(routes::SANDBOX), None::<&()>).await
    }

    fn connection(&self) -> &Arc<Connection<T>> {
        &self.default.connection
    }
}

impl<T> Deref for Sandbox<T> {
    type Target = ExecutionSession<T>;

    fn deref(&self) -> &ExecutionSession<T> {
        &self.default
    }
}
