//! Background processes, on a session (and so on a sandbox, through its default session): start one from the
//! session's state, list, show, kill, read and follow its log, write to its stdin, and wait inside the sandbox.

use std::collections::BTreeMap;

use sandbox_protocol::query::with_query;
use sandbox_protocol::{
    routes, Encoding, KillAllResult, KillQuery, LogQuery, LogStream, ProcessEvent, ProcessEventType, ProcessInfo,
    ProcessList, ProcessLogs, StartProcessRequest, StdinRequest, StdinResult, WaitCondition, WaitRequest, WaitResult,
};

use crate::connection::{at, at_id};
use crate::error::Result;
use crate::events::{process_events, ProcessEvents};
use crate::session::ExecutionSession;
use crate::transport::Transport;

/// Options of `start_process`, as the SDK names them.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    pub process_id: Option<String>,
    /// For this process only; a `None` value unsets the variable.
    pub env: Option<BTreeMap<String, Option<String>>>,
    pub cwd: Option<String>,
    /// Milliseconds; the process and its tree are killed when they pass.
    pub timeout: Option<u64>,
    pub auto_cleanup: bool,
    /// What it and all it starts may use together (`memory`, `pids`, `cpu`), as a session's limits.
    pub limits: Option<sandbox_protocol::ResourceLimits>,
}

/// Options of `wait_for_exit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitOptions {
    /// Milliseconds; the wait fails with `WAIT_TIMED_OUT` when they pass.
    pub timeout: Option<u64>,
}

/// Options of `wait_for_log`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitForLogOptions {
    /// The pattern is a regular expression (otherwise: text a line contains).
    pub regex: bool,
    /// Only this stream's lines (both when `None`).
    pub stream: Option<LogStream>,
    /// Milliseconds; the wait fails with `WAIT_TIMED_OUT` when they pass.
    pub timeout: Option<u64>,
}

/// Options of `wait_for_port`, as the SDK names them.
#[derive(Debug, Clone, Default)]
pub struct WaitForPortOptions {
    /// Wait until `GET path` answers (with `status`), not only until something listens.
    pub path: Option<String>,
    /// The status `GET path` must answer with (200 when not given).
    pub status: Option<u16>,
    /// Milliseconds; the wait fails with `WAIT_TIMED_OUT` when they pass.
    pub timeout: Option<u64>,
}

impl<T: Transport> ExecutionSession<T> {
    /// Starts a background process from this session's directory and exported variables as they are now. It
    /// belongs to the sandbox: ending the session leaves it running.
    pub async fn start_process(&self, command: &str, options: ProcessOptions) -> Result<ProcessInfo> {
        let req = StartProcessRequest {
            command: command.to_string(),
            process_id: options.process_id,
            session_id: self.session_id(),
            env: options.env,
            cwd: options.cwd,
            timeout: options.timeout,
            auto_cleanup: options.auto_cleanup.then_some(true),
            limits: options.limits,
        };
        self.connection.call("POST", at(routes::PROCESSES), Some(&req)).await
    }

    /// Every process of the sandbox, running or ended and kept.
    pub async fn list_processes(&self) -> Result<ProcessList> {
        self.connection.call("GET", at(routes::PROCESSES), None::<&()>).await
    }

    /// The process, or `None` when the sandbox has none with that id.
    pub async fn get_process(&self, id: &str) -> Result<Option<ProcessInfo>> {
        match self.connection.call("GET", &at_id(routes::PROCESS, id)?, None::<&()>).await {
            Ok(info) => Ok(Some(info)),
            Err(e) if e.code() == Some(sandbox_protocol::ErrorCode::ProcessNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ends the process and its whole tree (`signal`, `SIGTERM` by default, then `SIGKILL`), once they are gone.
    pub async fn kill_process(&self, id: &str, signal: Option<&str>) -> Result<ProcessInfo> {
        let query = KillQuery { signal: signal.map(str::to_string) };
        let path = with_query(&at_id(routes::PROCESS, id)?, &query);
        self.connection.call("DELETE", &path, None::<&()>).await
    }

    pub async fn kill_all_processes(&self) -> Result<KillAllResult> {
        self.connection.call("DELETE", at(routes::PROCESSES), None::<&()>).await
    }

    pub async fn get_process_logs(&self, id: &str, encoding: Option<Encoding>) -> Result<ProcessLogs> {
        let path = with_query(&at_id(routes::PROCESS_LOGS, id)?, &LogQuery { encoding, from: None });
        self.connection.call("GET", &path, None::<&()>).await
    }

    /// The process's output from offset `from` (0: the start of what its log holds) as events, then live, until
    /// `exit`. After a cut, open it again from the last event's `offset`: nothing is lost or repeated.
    pub async fn stream_process_logs(&self, id: &str, from: u64, encoding: Option<Encoding>) -> Result<ProcessEvents> {
        let path = with_query(&at_id(routes::PROCESS_STREAM, id)?, &LogQuery { encoding, from: Some(from) });
        let answer = self.connection.open("GET", &path, None::<&()>).await?;
        Ok(process_events(answer.body))
    }

    /// `stream_process_logs` that follows the process to its end across broken connections: each time one
    /// breaks (a network error, a cut stream, the container briefly unavailable) it is opened again from the last
    /// event's offset, so no byte is lost or repeated; it gives up after `RECONNECTS` failures in a row.
    pub async fn follow_process_logs(&self, id: &str, from: u64, encoding: Option<Encoding>) -> Result<ProcessEvents>
    where
        T: 'static,
    {
        let first = self.stream_process_logs(id, from, encoding).await?;
        let follow = Follow {
            session: self.clone(),
            id: id.to_string(),
            encoding,
            from,
            current: Some(first),
            failures: 0,
            done: false,
        };
        Ok(Box::pin(futures_util::stream::unfold(follow, |mut f| async move {
            let item = f.next().await?;
            Some((item, f))
        })))
    }

    /// Writes to the process's stdin; `end` closes it afterwards.
    pub async fn write_process_stdin(&self, id: &str, data: &str, end: bool) -> Result<StdinResult> {
        let req = StdinRequest { data: data.to_string(), encoding: None, end: end.then_some(true) };
        self.connection.call("POST", &at_id(routes::PROCESS_STDIN, id)?, Some(&req)).await
    }

    /// Waits until the process has ended.
    pub async fn wait_for_exit(&self, id: &str, options: WaitOptions) -> Result<WaitResult> {
        self.wait_process(id, WaitRequest { timeout: options.timeout, ..wait(WaitCondition::Exit) }).await
    }

    /// Waits until a line of the process's output (already logged, or to come) contains `pattern` (or matches it
    /// as a regular expression, with `options.regex`).
    pub async fn wait_for_log(&self, id: &str, pattern: &str, options: WaitForLogOptions) -> Result<WaitResult> {
        let req = WaitRequest {
            pattern: Some(pattern.to_string()),
            regex: options.regex.then_some(true),
            stream: options.stream,
            timeout: options.timeout,
            ..wait(WaitCondition::Log)
        };
        self.wait_process(id, req).await
    }

    /// Waits until something listens on `port` inside the sandbox (and, with `options.path`, answers `GET path`
    /// with `options.status`, 200 when not given).
    pub async fn wait_for_port(&self, id: &str, port: u16, options: WaitForPortOptions) -> Result<WaitResult> {
        let req = WaitRequest {
            port: Some(port),
            path: options.path,
            status: options.status,
            timeout: options.timeout,
            ..wait(WaitCondition::Port)
        };
        self.wait_process(id, req).await
    }

    async fn wait_process(&self, id: &str, req: WaitRequest) -> Result<WaitResult> {
        self.connection.call("POST", &at_id(routes::PROCESS_WAIT, id)?, Some(&req)).await
    }
}

/// How many times in a row a followed log is opened again before it gives up.
const RECONNECTS: u32 = 5;

struct Follow<T> {
    session: ExecutionSession<T>,
    id: String,
    encoding: Option<Encoding>,
    from: u64,
    current: Option<ProcessEvents>,
    failures: u32,
    done: bool,
}

impl<T: Transport> Follow<T> {
    async fn next(&mut self) -> Option<Result<ProcessEvent>> {
        use futures_util::StreamExt;
        loop {
            if self.done {
                return None;
            }
            let stream = match self.current.as_mut() {
                Some(stream) => stream,
                None => match self.session.stream_process_logs(&self.id, self.from, self.encoding).await {
                    Ok(stream) => self.current.insert(stream),
                    Err(e) => match self.retry(e) {
                        Some(e) => return Some(Err(e)),
                        None => continue,
                    },
                },
            };
            match stream.next().await {
                Some(Ok(event)) => {
                    self.failures = 0;
                    if event.event_type == ProcessEventType::Exit {
                        self.done = true;
                    } else {
                        self.from = event.offset;
                    }
                    return Some(Ok(event));
                }
                Some(Err(e)) => {
                    self.current = None;
                    if let Some(e) = self.retry(e) {
                        return Some(Err(e));
                    }
                }
                None => {
                    self.current = None;
                    if let Some(e) = self.retry(crate::error::Error::StreamInterrupted) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// `None` when the failure is worth another try (and tries are left); the error to end with otherwise.
    fn retry(&mut self, error: crate::error::Error) -> Option<crate::error::Error> {
        use crate::error::Error;
        let passing = matches!(error, Error::StreamInterrupted | Error::Network(_))
            || error.code() == Some(sandbox_protocol::ErrorCode::ContainerUnavailable);
        self.failures += 1;
        if passing && self.failures <= RECONNECTS {
            return None;
        }
        self.done = true;
        Some(error)
    }
}

fn wait(condition: WaitCondition) -> WaitRequest {
    WaitRequest {
        condition,
        pattern: None,
        regex: None,
        stream: None,
        port: None,
        path: None,
        status: None,
        timeout: None,
    }
}
