//! Sleep: the idle alarm, kept `SANDBOX_SLEEP_AFTER` (or the sandbox's own `setSleepAfter`) ahead of the last
//! call, stops the container (locally, the sandbox's jail) once nobody calls, unless it is kept alive
//! (`setKeepAlive`), never while a call is in flight or a terminal has a viewer; why and when is recorded for the
//! status route.

use sandbox_protocol::SandboxMode;
use serde::{Deserialize, Serialize};
use worker::{Date, Response, Result};

use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::log::Log;
use crate::save_every;
use crate::sleep_after::{self, OnAlarm};

/// Storage key of the last container stop, for the status route.
pub(super) const LAST_STOP_KEY: &str = "last-stop";

/// Why and when the container was last stopped (shown by the status route).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LastStop {
    pub(super) at: String,
    pub(super) reason: String,
}

impl SandboxObject {
    /// Nobody called for `SANDBOX_SLEEP_AFTER`: stop the container (locally, the sandbox's jail: its folder stays),
    /// unless a call is still in flight (a long exec or stream) or a terminal has a viewer attached. The decision
    /// is logged (`sandbox.stop`) and shown by the status route (`stoppedAt`, `stopReason`). The next call starts a
    /// new one.
    pub(super) async fn idle_alarm(&self) -> Result<Response> {
        let own = self.sleep_settings().await;
        let after = own.sleep_after(self.config.sleep_after);
        let idle_ms = self.known.borrow().idle_ms(self.in_flight.last_end(), Date::now().as_millis() as f64);
        let decision = match sleep_after::on_alarm(self.in_flight.count(), idle_ms, after) {
            // Kept alive (`setKeepAlive`): never stopped for being idle; the alarm still serves periodic saves.
            OnAlarm::Stop if own.keep_alive => OnAlarm::Later { ms: after.as_millis() as i64, in_flight: 0 },
            decision => decision,
        };
        match decision {
            OnAlarm::Later { ms, in_flight } => {
                if in_flight > 0 {
                    self.alarm_log().info("idle.deferred", format!("{in_flight} call(s) still in flight"));
                }
                self.periodic_save().await;
                self.state.storage().set_alarm(save_every::next_alarm_ms(ms, self.until_save())).await?;
                Response::ok("in use")
            }
            OnAlarm::Stop => {
                let log = self.alarm_log();
                let id = self.sandbox_id.borrow().clone();
                if let Ok(link) = AgentLink::new(&self.state, &self.config, &self.life, &id, log.clone()) {
                    // A container that runs (deployed), or a local sandbox's jail (the host agent's to stop).
                    let container = link.container().filter(|c| c.running());
                    let local = link.mode() == SandboxMode::Local && !id.is_empty();
                    if container.is_some() || local {
                        // Someone watching a terminal is using the sandbox, though no call reaches this object.
                        let watched = link.watched_terminals().await;
                        if watched > 0 {
                            log.info("idle.deferred", format!("{watched} terminal(s) with a viewer attached"));
                            self.state.storage().set_alarm(after.as_millis() as i64).await?;
                            return Response::ok("in use");
                        }
                        // The workspace is saved first (with a backup bucket); a call that came meanwhile keeps the
                        // sandbox up, and the next alarm saves again.
                        if self.config.backups.is_some() {
                            self.autosave(&link).await;
                            let idle_ms =
                                self.known.borrow().idle_ms(self.in_flight.last_end(), Date::now().as_millis() as f64);
                            let decision = sleep_after::on_alarm(self.in_flight.count(), idle_ms, after);
                            if let OnAlarm::Later { ms, .. } = decision {
                                log.info("idle.deferred", "a call came during the save");
                                self.state.storage().set_alarm(ms).await?;
                                return Response::ok("in use");
                            }
                        }
                        let whose = if own.sleep_after_ms.is_some() { "setSleepAfter" } else { "SANDBOX_SLEEP_AFTER" };
                        let reason = format!("idle for {} s ({whose})", after.as_secs());
                        let what = if local { "the sandbox's jail" } else { "the container" };
                        log.info("sandbox.stop", format!("stopping {what}: {reason}"));
                        // Recorded first: once the container is gone, the status route says why.
                        let at = worker::js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default();
                        if let Err(err) = self.state.storage().put(LAST_STOP_KEY, LastStop { at, reason }).await {
                            log.error("storage.failed", format!("could not record the stop: {err}"));
                        }
                        let stopped = match container {
                            Some(container) => container.destroy(None).await.map_err(|e| e.to_string()),
                            None => link.stop_local().await.map_err(|e| e.message),
                        };
                        if let Err(err) = stopped {
                            log.error("sandbox.stop.failed", format!("{what} did not stop: {err}"));
                        }
                    }
                }
                self.known.borrow_mut().stopped();
                Response::ok("stopped")
            }
        }
    }

    /// Notes the call and keeps the idle alarm `SANDBOX_SLEEP_AFTER` ahead (`ObjectState::call_came` says when
    /// to write it).
    pub(super) async fn keep_awake(&self, log: &Log) {
        let after = self.sleep_after().await;
        let push = self.known.borrow_mut().call_came(Date::now().as_millis() as f64, after);
        if push {
            let ms = save_every::next_alarm_ms(after.as_millis() as i64, self.until_save());
            if let Err(err) = self.state.storage().set_alarm(ms).await {
                log.error("alarm.failed", format!("could not set the idle alarm: {err}"));
            }
        }
    }

    /// `SANDBOX_SAVE_EVERY`, when there is a bucket to save to.
    fn save_every(&self) -> Option<std::time::Duration> {
        self.config.save_every.filter(|_| self.config.backups.is_some())
    }

    /// Milliseconds until the next periodic save, when there are periodic saves.
    pub(super) fn until_save(&self) -> Option<i64> {
        let every = self.save_every()?;
        self.known.borrow().until_save(Date::now().as_millis() as f64, every)
    }

    /// Saves a busy sandbox's workspace when `SANDBOX_SAVE_EVERY` has passed since its last save.
    async fn periodic_save(&self) {
        let Some(every) = self.save_every() else { return };
        let now = Date::now().as_millis() as f64;
        if !self.known.borrow().save_due(now, every) {
            return;
        }
        let log = self.alarm_log();
        let id = self.sandbox_id.borrow().clone();
        if let Ok(link) = AgentLink::new(&self.state, &self.config, &self.life, &id, log) {
            self.autosave(&link).await;
        }
    }

    /// The log of the object's alarm: its sandbox, and no call.
    pub(super) fn alarm_log(&self) -> Log {
        Log::new(&self.sandbox_id.borrow(), None)
    }
}
