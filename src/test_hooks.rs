//! Routes that exist only when `SANDBOX_TEST_HOOKS=1` (the end-to-end tests and the benchmarks): a panic, to prove
//! that a panic still reaches the caller as JSON (`src/entry.mjs`), the backup bucket's own throughput (the floor
//! under the backup benchmark), the keys the bucket holds under a prefix (what a collection of it left), an
//! object of the bucket overwritten (a corrupt blob), and injected failures of the bucket's blob writes (a save
//! that fails half way). The objects run in the Worker's isolate, so they see the same injected failures.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use worker::{Date, Request, Response};

use crate::config::Config;
use crate::errors::WorkerError;

pub const PANIC: &str = "/v1/_test/panic";
pub const BUCKET_THROUGHPUT: &str = "/v1/_test/bucket";
pub const BUCKET_KEYS: &str = "/v1/_test/bucket/keys";
pub const BUCKET_OBJECT: &str = "/v1/_test/bucket/object";
pub const BUCKET_FAIL_PUTS: &str = "/v1/_test/bucket/fail-puts";

/// Blob writes still to fail (set only through `BUCKET_FAIL_PUTS`, which exists only with the hooks on).
static FAILING_PUTS: AtomicU32 = AtomicU32::new(0);

/// Whether this blob write is to fail (an injected failure of the store).
pub fn put_fails() -> bool {
    FAILING_PUTS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

/// Answers a test hook's route, if `req` is one and the hooks are on.
pub async fn answer(req: &Request, config: &Config) -> Option<Result<Response, WorkerError>> {
    if !config.test_hooks {
        return None;
    }
    match req.path().as_str() {
        PANIC => panic!("a panic requested by the test hook"),
        BUCKET_THROUGHPUT => Some(bucket_throughput(req, config).await),
        BUCKET_KEYS => Some(bucket_keys(req, config).await),
        BUCKET_OBJECT => Some(overwrite(req, config).await),
        BUCKET_FAIL_PUTS => {
            let count = query(req, "count").and_then(|v| v.parse().ok()).unwrap_or(0);
            FAILING_PUTS.store(count, Ordering::SeqCst);
            Some(Response::from_json(&json!({ "failingPuts": count })).map_err(WorkerError::from))
        }
        _ => None,
    }
}

/// `?mb=N`: N MiB written to the bucket as 4 MiB objects one after another, read back, and removed; the times of
/// the writes and of the reads.
async fn bucket_throughput(req: &Request, config: &Config) -> Result<Response, WorkerError> {
    let bucket = config
        .backups
        .as_ref()
        .ok_or_else(|| WorkerError::new(sandbox_protocol::ErrorCode::BackupsNotConfigured, "no bucket"))?;
    let mb: usize = req.url()?.query_pairs().find(|(k, _)| k == "mb").and_then(|(_, v)| v.parse().ok()).unwrap_or(64);
    let chunk: Vec<u8> = (0..4 << 20).map(|i: usize| (i * 31 % 251) as u8).collect();
    let keys: Vec<String> = (0..mb.div_ceil(4)).map(|i| format!("_test/throughput-{i}")).collect();
    let t0 = Date::now().as_millis();
    for key in &keys {
        bucket.put(key, chunk.clone()).execute().await?;
    }
    let t1 = Date::now().as_millis();
    for key in &keys {
        if let Some(object) = bucket.get(key).execute().await? {
            if let Some(body) = object.body() {
                body.bytes().await?;
            }
        }
    }
    let t2 = Date::now().as_millis();
    for key in &keys {
        bucket.delete(key).await?;
    }
    Ok(Response::from_json(&json!({ "bytes": keys.len() * (4 << 20), "putMs": t1 - t0, "getMs": t2 - t1 }))?)
}

/// `?prefix=P`: the bucket's keys under `P` (up to 1,000).
async fn bucket_keys(req: &Request, config: &Config) -> Result<Response, WorkerError> {
    let bucket = config
        .backups
        .as_ref()
        .ok_or_else(|| WorkerError::new(sandbox_protocol::ErrorCode::BackupsNotConfigured, "no bucket"))?;
    let prefix = query(req, "prefix").unwrap_or_default();
    let listed = bucket.list().prefix(prefix).execute().await?;
    let keys: Vec<String> = listed.objects().iter().map(|o| o.key()).collect();
    Ok(Response::from_json(&json!({ "keys": keys }))?)
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `PUT ?key=K`: the body written as the bucket's object `K` (a blob made corrupt).
async fn overwrite(req: &Request, config: &Config) -> Result<Response, WorkerError> {
    let bucket = config
        .backups
        .as_ref()
        .ok_or_else(|| WorkerError::new(sandbox_protocol::ErrorCode::BackupsNotConfigured, "no bucket"))?;
    let key = query(req, "key").unwrap_or_default();
    let bytes = req.clone()?.bytes().await?;
    bucket.put(&key, bytes).execute().await?;
    Ok(Response::from_json(&json!({ "key": key }))?)
}
