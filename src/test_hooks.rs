//! Routes that exist only when `SANDBOX_TEST_HOOKS=1` (the end-to-end tests and the benchmarks): a panic, to prove
//! that a panic still reaches the caller as JSON (`src/entry.mjs`), the backup bucket's own throughput (the floor
//! under the backup benchmark), and the keys the bucket holds under a prefix (what a collection of it left).

use serde_json::json;
use worker::{Date, Request, Response};

use crate::config::Config;
use crate::errors::WorkerError;

pub const PANIC: &str = "/v1/_test/panic";
pub const BUCKET_THROUGHPUT: &str = "/v1/_test/bucket";
pub const BUCKET_KEYS: &str = "/v1/_test/bucket/keys";

/// Answers a test hook's route, if `req` is one and the hooks are on.
pub async fn answer(req: &Request, config: &Config) -> Option<Result<Response, WorkerError>> {
    if !config.test_hooks {
        return None;
    }
    match req.path().as_str() {
        PANIC => panic!("a panic requested by the test hook"),
        BUCKET_THROUGHPUT => Some(bucket_throughput(req, config).await),
        BUCKET_KEYS => Some(bucket_keys(req, config).await),
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
    let prefix = req.url()?.query_pairs().find(|(k, _)| k == "prefix").map(|(_, v)| v.into_owned()).unwrap_or_default();
    let listed = bucket.list().prefix(prefix).execute().await?;
    let keys: Vec<String> = listed.objects().iter().map(|o| o.key()).collect();
    Ok(Response::from_json(&json!({ "keys": keys }))?)
}
