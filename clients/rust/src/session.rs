//! `ExecutionSession`: a session's methods (commands, files, variables). A `Sandbox` derefs to its default
//! session, so the same methods run there when called on the sandbox.

use std::collections::BTreeMap;
use std::sync::Arc;

use sandbox_protocol::{
    CancelExecRequest, CancelExecResult, CheckChangesRequest, CheckChangesResult, CommandInfo, CommandList,
    CommandsQuery, DeleteFileRequest, Encoding, ExecRequest, ExecResult, ExistsRequest, ExistsResult, FileContentQuery,
    FileOpResult, FileUploadQuery, GitCheckoutRequest, GitCheckoutResult, ListFilesRequest, ListFilesResult,
    MkdirRequest, MkdirResult, MoveFileRequest, ReadFileRequest, ReadFileResult, RenameFileRequest, RenameResult,
    SessionHistory, SessionInfo, SetEnvVarsRequest, SetEnvVarsResult, UploadResult, WatchQuery, WriteFileRequest,
    DEFAULT_SESSION_ID,
};

use sandbox_protocol::query::with_query;

use crate::connection::{at, at_id, Connection};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::error::{Error, Result};
use crate::events::{exec_events, ExecEvents};
use crate::stop_on_drop::{command_id_of, stop_on_drop, CancelOnDrop};
use crate::transport::{Chunks, Transport};
use crate::watch::{StopWatchOnDrop, WatchEvents, WatchOptions};
use sandbox_protocol::routes;

/// Options of `exec` and `exec_stream`, as the SDK names them.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Milliseconds; the command's process tree is killed when it passes. `Some(0)`: no timeout.
    pub timeout: Option<u64>,
    /// For this command only; a `None` value unsets the variable.
    pub env: Option<BTreeMap<String, Option<String>>>,
    /// Working directory for this command only.
    pub cwd: Option<String>,
    pub encoding: Option<Encoding>,
    /// Cap on each of stdout and stderr in the result, in bytes.
    pub max_output_bytes: Option<u64>,
    /// An id of the caller's choosing, to stop the command with `cancel`.
    pub command_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilesOptions {
    pub recursive: bool,
    pub include_hidden: bool,
}

pub struct ExecutionSession<T> {
    pub(crate) connection: Arc<Connection<T>>,
    id: String,
}

impl<T> Clone for ExecutionSession<T> {
    fn clone(&self) -> Self {
        ExecutionSession { connection: Arc::clone(&self.connection), id: self.id.clone() }
    }
}

impl<T: Transport> ExecutionSession<T> {
    pub(crate) fn new(connection: Arc<Connection<T>>, id: String) -> Self {
        ExecutionSession { connection, id }
    }

    /// The session's id (`default` for the sandbox's own).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs a command in the session's shell and returns its result. Dropping the future before it resolves (the
    /// caller gave up: a timeout, a `select!`) cancels the command in the sandbox: a queued one never runs.
    pub async fn exec(&self, command: &str, mut options: ExecOptions) -> Result<ExecResult> {
        let command_id = command_id_of(&mut options)?;
        let guard = CancelOnDrop::new(&self.connection, command_id);
        let result = self.connection.call("POST", at(routes::EXEC), Some(&self.exec_request(command, options))).await;
        guard.answered();
        result
    }

    /// Runs a command and returns its events as they come: `start`, `stdout` / `stderr`, then `complete`.
    /// Dropping the stream before its last event stops the command in the sandbox (it is cancelled by its
    /// `command_id`: the one given, or one the client makes), as cancelling the stream does in the JS client.
    pub async fn exec_stream(&self, command: &str, mut options: ExecOptions) -> Result<ExecEvents>
    where
        T: 'static,
    {
        let command_id = command_id_of(&mut options)?;
        let answer =
            self.connection.open("POST", at(routes::EXEC_STREAM), Some(&self.exec_request(command, options))).await?;
        Ok(stop_on_drop(exec_events(answer.body), Arc::clone(&self.connection), command_id))
    }

    /// Watches a directory (or a file) for changes: `ready` first, then `create`, `modify`, `delete`, `rename`
    /// (with `old_path`) and `overflow` when changes were dropped. Dropping the stream ends the watch in the
    /// sandbox.
    pub async fn watch(&self, path: &str, options: WatchOptions) -> Result<WatchEvents>
    where
        T: 'static,
    {
        let watch_id = crate::stop_on_drop::new_command_id()?;
        let list = |patterns: Vec<String>| (!patterns.is_empty()).then(|| patterns.join(","));
        let query = WatchQuery {
            path: path.into(),
            recursive: Some(options.recursive),
            include: list(options.include),
            exclude: list(options.exclude),
            watch_id: Some(watch_id.clone()),
            session_id: self.session_id(),
        };
        let answer = self.connection.open("GET", &with_query(at(routes::WATCH), &query), None::<&()>).await?;
        let events = crate::events::watch_events(answer.body);
        Ok(Box::pin(StopWatchOnDrop { events, connection: Arc::clone(&self.connection), watch_id }))
    }

    /// What changed under `path` since `since` (the previous answer's `cursor`), for callers that cannot hold a
    /// `watch` open; the first call (no `since`) puts a watch in place. `overflow`: changes were lost.
    pub async fn check_changes(
        &self,
        path: &str,
        since: Option<&str>,
        options: WatchOptions,
    ) -> Result<CheckChangesResult> {
        let list = |patterns: Vec<String>| (!patterns.is_empty()).then(|| patterns.join(","));
        let req = CheckChangesRequest {
            path: path.into(),
            recursive: options.recursive,
            include: list(options.include),
            exclude: list(options.exclude),
            since: since.map(str::to_string),
            session_id: self.session_id(),
        };
        self.connection.call("POST", at(routes::WATCH_CHANGES), Some(&req)).await
    }

    /// Stops the command started with `command_id`, running or queued (it ends with exit code 130).
    pub async fn cancel(&self, command_id: &str) -> Result<CancelExecResult> {
        self.connection
            .call("POST", at(routes::EXEC_CANCEL), Some(&CancelExecRequest { command_id: command_id.to_string() }))
            .await
    }

    /// The commands in flight, running or queued behind the running one, oldest first: all of the sandbox's (on a
    /// sandbox) or this session's. Each has the `command_id` that `cancel` takes.
    pub async fn list_commands(&self) -> Result<Vec<CommandInfo>> {
        let path = with_query(at(routes::COMMANDS), &CommandsQuery { session_id: self.session_id() });
        Ok(self.connection.call::<CommandList>("GET", &path, None::<&()>).await?.commands)
    }

    /// Exports variables into the session for its later commands; a `None` value unsets one.
    pub async fn set_env_vars(&self, env_vars: BTreeMap<String, Option<String>>) -> Result<SetEnvVarsResult> {
        self.connection
            .call("POST", at(routes::ENV), Some(&SetEnvVarsRequest { env_vars, session_id: self.session_id() }))
            .await
    }

    pub async fn list_files(&self, path: &str, options: ListFilesOptions) -> Result<ListFilesResult> {
        let req = ListFilesRequest {
            path: path.into(),
            recursive: options.recursive,
            include_hidden: options.include_hidden,
            session_id: self.session_id(),
        };
        self.connection.call("POST", at(routes::FILES_LIST), Some(&req)).await
    }

    /// Writes a file, making its parent directories; `content` is in `encoding` (`utf-8` when `None`).
    pub async fn write_file(&self, path: &str, content: &str, encoding: Option<Encoding>) -> Result<FileOpResult> {
        let req =
            WriteFileRequest { path: path.into(), content: content.into(), encoding, session_id: self.session_id() };
        self.connection.call("POST", at(routes::FILES_WRITE), Some(&req)).await
    }

    /// Reads a file; without an encoding, text comes as `utf-8` and binary content as `base64`.
    pub async fn read_file(&self, path: &str, encoding: Option<Encoding>) -> Result<ReadFileResult> {
        self.read_file_range(path, None, None, encoding).await
    }

    /// Reads `length` bytes (to the end when `None`) from `offset` of a file of any size; the range must fit in
    /// `limits::MAX_READ_FILE_BYTES`. An offset at or past the end is `RANGE_NOT_SATISFIABLE`.
    pub async fn read_file_range(
        &self,
        path: &str,
        offset: Option<u64>,
        length: Option<u64>,
        encoding: Option<Encoding>,
    ) -> Result<ReadFileResult> {
        let req = ReadFileRequest { path: path.into(), encoding, offset, length, session_id: self.session_id() };
        self.connection.call("POST", at(routes::FILES_READ), Some(&req)).await
    }

    /// A file's bytes as a stream of chunks, at any size and in bounded memory: the whole file, or `length` bytes
    /// (to the end when `None`) from `offset`. Dropping the stream stops the read in the sandbox.
    pub async fn read_file_stream(&self, path: &str, offset: Option<u64>, length: Option<u64>) -> Result<Chunks> {
        let query = FileContentQuery { path: path.into(), offset, length, session_id: self.session_id() };
        let path = with_query(at(routes::FILES_CONTENT), &query);
        Ok(self.connection.open("GET", &path, None::<&()>).await?.body)
    }

    /// Writes a file from a stream of chunks, at any size, making its parent directories. The file is replaced
    /// whole once the last chunk has arrived; a stream that fails half way (an `Err` chunk) leaves the old file.
    pub async fn write_file_stream(&self, path: &str, chunks: Chunks) -> Result<UploadResult> {
        let query = FileUploadQuery { path: path.into(), session_id: self.session_id() };
        self.connection.upload("PUT", &with_query(at(routes::FILES_CONTENT), &query), chunks).await
    }

    /// Writes `bytes` as the file, whatever they hold (sent as base64), making its parent directories.
    pub async fn write_file_bytes(&self, path: &str, bytes: &[u8]) -> Result<FileOpResult> {
        self.write_file(path, &BASE64.encode(bytes), Some(Encoding::Base64)).await
    }

    /// The file's bytes, whatever they hold (read as base64 and decoded).
    pub async fn read_file_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let read = self.read_file(path, Some(Encoding::Base64)).await?;
        BASE64.decode(read.content.as_bytes()).map_err(|e| Error::InvalidResponse(format!("{path}: base64: {e}")))
    }

    /// Clones a repository into the sandbox as a command of this session (its variables, such as credentials,
    /// apply): `git_checkout(url, GitCheckoutRequest { branch: Some("main".into()), ..Default::default() })`.
    /// The request's `repo_url` and `session_id` are this call's.
    pub async fn git_checkout(&self, repo_url: &str, options: GitCheckoutRequest) -> Result<GitCheckoutResult> {
        let req = GitCheckoutRequest { repo_url: repo_url.into(), session_id: self.session_id(), ..options };
        self.connection.call("POST", at(routes::GIT_CHECKOUT), Some(&req)).await
    }

    pub async fn mkdir(&self, path: &str, recursive: bool) -> Result<MkdirResult> {
        let req = MkdirRequest { path: path.into(), recursive, session_id: self.session_id() };
        self.connection.call("POST", at(routes::FILES_MKDIR), Some(&req)).await
    }

    pub async fn delete_file(&self, path: &str) -> Result<FileOpResult> {
        let req = DeleteFileRequest { path: path.into(), session_id: self.session_id() };
        self.connection.call("POST", at(routes::FILES_DELETE), Some(&req)).await
    }

    /// Renames; refuses to replace an existing `new_path` (`FILE_EXISTS`).
    pub async fn rename_file(&self, old_path: &str, new_path: &str) -> Result<RenameResult> {
        let req =
            RenameFileRequest { old_path: old_path.into(), new_path: new_path.into(), session_id: self.session_id() };
        self.connection.call("POST", at(routes::FILES_RENAME), Some(&req)).await
    }

    /// Moves like `mv`: into `destination_path` when it is a directory.
    pub async fn move_file(&self, source_path: &str, destination_path: &str) -> Result<RenameResult> {
        let req = MoveFileRequest {
            source_path: source_path.into(),
            destination_path: destination_path.into(),
            session_id: self.session_id(),
        };
        self.connection.call("POST", at(routes::FILES_MOVE), Some(&req)).await
    }

    pub async fn exists(&self, path: &str) -> Result<ExistsResult> {
        let req = ExistsRequest { path: path.into(), session_id: self.session_id() };
        self.connection.call("POST", at(routes::FILES_EXISTS), Some(&req)).await
    }

    /// The session's state: `cwd`, `status`, times and command count.
    pub async fn info(&self) -> Result<SessionInfo> {
        self.connection.call("GET", &at_id(routes::SESSION, &self.id)?, None::<&()>).await
    }

    /// The session's newest commands, oldest first.
    pub async fn history(&self) -> Result<SessionHistory> {
        self.connection.call("GET", &at_id(routes::SESSION_HISTORY, &self.id)?, None::<&()>).await
    }

    pub(crate) fn session_id(&self) -> Option<String> {
        (self.id != DEFAULT_SESSION_ID).then(|| self.id.clone())
    }

    fn exec_request(&self, command: &str, o: ExecOptions) -> ExecRequest {
        ExecRequest {
            command: command.to_string(),
            session_id: self.session_id(),
            env: o.env,
            cwd: o.cwd,
            timeout: o.timeout,
            encoding: o.encoding,
            max_output_bytes: o.max_output_bytes,
            command_id: o.command_id,
        }
    }
}
