//! The sandbox's own sleep settings (`setKeepAlive`, `setSleepAfter`), in place of the Worker's
//! `SANDBOX_SLEEP_AFTER` for this sandbox alone: kept in its storage (they outlive the object's restarts, and are
//! forgotten by `destroy`), read once per object instance. What they mean is `crate::sleep_after::Own`; the idle
//! alarm (`idle.rs`) asks `sleep_settings` each time it decides.

use std::time::Duration;

use sandbox_protocol::{ErrorCode, SleepRequest, SleepSettings};
use worker::{Date, Request, Response};

use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::errors::WorkerError;
use crate::log::Log;
use crate::save_every;
use crate::sleep_after::{self, OnAlarm, Own};

/// Storage key of the settings.
const SLEEP_KEY: &str = "sleep:settings";

impl SandboxObject {
    /// The sandbox's own settings (the defaults when it set none, or its storage cannot be read).
    pub(super) async fn sleep_settings(&self) -> Own {
        if let Some(own) = *self.sleep.borrow() {
            return own;
        }
        let own = match self.state.storage().get::<Own>(SLEEP_KEY).await {
            Ok(own) => own.unwrap_or_default(),
            Err(err) => {
                self.alarm_log().error("storage.failed", format!("could not read the sleep settings: {err}"));
                return Own::default();
            }
        };
        *self.sleep.borrow_mut() = Some(own);
        own
    }

    /// The idle time in effect for this sandbox.
    pub(super) async fn sleep_after(&self) -> Duration {
        self.sleep_settings().await.sleep_after(self.config.sleep_after)
    }

    pub(super) async fn get_sleep(&self) -> Result<Response, WorkerError> {
        let own = self.sleep_settings().await;
        Ok(Response::from_json(&self.settings(own))?)
    }

    /// Applies a `SleepRequest`, stores it, and sets the idle alarm by it at once when the sandbox has had calls (a
    /// shorter `sleepAfter` than the time it has been idle stops it now).
    pub(super) async fn set_sleep(&self, req: Request, log: &Log) -> Result<Response, WorkerError> {
        let text = small_body(req, "sleep").await?;
        let asked: SleepRequest = serde_json::from_str(&text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("sleep: {e}")))?;
        let own =
            self.sleep_settings().await.with(&asked).map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, e))?;
        let storage = self.state.storage();
        storage.put(SLEEP_KEY, own).await.map_err(storage_failed)?;
        *self.sleep.borrow_mut() = Some(own);
        let after = own.sleep_after(self.config.sleep_after);
        // No call since the object started: nothing to stop yet (the first call sets the alarm).
        let idle_ms = self.known.borrow().idle_ms(self.in_flight.last_end(), Date::now().as_millis() as f64);
        if idle_ms.is_some() {
            let ms = match sleep_after::on_alarm(self.in_flight.count(), idle_ms, after) {
                OnAlarm::Later { ms, .. } => ms,
                OnAlarm::Stop => 1,
            };
            storage.set_alarm(save_every::next_alarm_ms(ms, self.until_save())).await.map_err(storage_failed)?;
        }
        log.info(
            "sleep.settings",
            format!(
                "keepAlive {}, sleepAfter {} ms{}",
                own.keep_alive,
                after.as_millis(),
                match own.sleep_after_ms {
                    Some(_) => "",
                    None => " (SANDBOX_SLEEP_AFTER)",
                }
            ),
        );
        Ok(Response::from_json(&self.settings(own))?)
    }

    fn settings(&self, own: Own) -> SleepSettings {
        SleepSettings {
            success: true,
            keep_alive: own.keep_alive,
            sleep_after_ms: own.sleep_after(self.config.sleep_after).as_millis() as u64,
            sleep_after_default: own.sleep_after_ms.is_none(),
        }
    }
}
