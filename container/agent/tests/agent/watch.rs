//! `GET /v1/watch`: a path's changes as server-sent events, `ready` first; renames with both names, new directories
//! of a recursive watch followed, filters honoured, a burst reported or said to overflow (never a hang), a watch's
//! inotify instance gone with its reader, and the sandbox's watches bounded.

use std::path::Path;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::support::*;

/// A watch's events as they come.
struct Events {
    body: Incoming,
    buf: String,
}

impl Events {
    async fn open(c: &mut Client, query: &str) -> Events {
        let response = c.start("GET", &format!("/v1/watch?{query}"), Vec::new()).await;
        assert_eq!(response.status(), 200);
        let mut events = Events { body: response.into_body(), buf: String::new() };
        assert_eq!(events.next().await["type"], "ready", "ready comes first");
        events
    }

    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                if let Some(json) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(json).unwrap();
                }
                continue;
            }
            let frame =
                tokio::time::timeout(Duration::from_secs(20), self.body.frame()).await.expect("an event in time");
            let data = frame.expect("the stream is open").unwrap().into_data().unwrap_or_default();
            self.buf.push_str(std::str::from_utf8(&data).unwrap());
        }
    }

    /// Events until one `stop` accepts (it included).
    async fn until(&mut self, mut stop: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let done = stop(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}

fn kind_and_name(event: &Value) -> String {
    let name = |p: &Value| p.as_str().map(|p| p.rsplit('/').next().unwrap().to_string()).unwrap_or_default();
    match event["oldPath"].as_str() {
        Some(_) => format!("{} {}>{}", s(&event["type"]), name(&event["oldPath"]), name(&event["path"])),
        None => format!("{} {}", s(&event["type"]), name(&event["path"])),
    }
}

/// The agent's open inotify instances.
fn inotify_instances(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .filter(|target| target.to_string_lossy().contains("inotify"))
        .count()
}

#[tokio::test]
async fn create_modify_rename_and_delete_come_in_order_with_both_names_of_a_rename() {
    let agent = Agent::start();
    std::fs::create_dir(agent.dir.join("w")).unwrap();
    let mut c = agent.client().await;
    let mut events = Events::open(&mut c, "path=w").await;
    let dir = agent.dir.join("w");
    std::fs::write(dir.join("a.txt"), "one").unwrap();
    std::fs::OpenOptions::new().append(true).open(dir.join("a.txt")).unwrap();
    std::fs::write(dir.join("a.txt"), "two").unwrap();
    std::fs::rename(dir.join("a.txt"), dir.join("b.txt")).unwrap();
    std::fs::remove_file(dir.join("b.txt")).unwrap();
    let seen = events.until(|e| e["type"] == "delete").await;
    let mut kinds: Vec<String> = seen.iter().map(kind_and_name).collect();
    kinds.dedup();
    assert_eq!(kinds, ["create a.txt", "modify a.txt", "rename a.txt>b.txt", "delete b.txt"]);
    let rename = seen.iter().find(|e| e["type"] == "rename").unwrap();
    assert_eq!(rename["oldPath"], path_str(&dir.join("a.txt")).as_str());
    assert_eq!(rename["path"], path_str(&dir.join("b.txt")).as_str());
    assert_eq!(rename["isDirectory"], false);
}

#[tokio::test]
async fn a_recursive_watch_follows_directories_made_after_it_began_and_filters_hold() {
    let agent = Agent::start();
    std::fs::create_dir_all(agent.dir.join("r/target")).unwrap();
    let mut c = agent.client().await;
    let mut events = Events::open(&mut c, "path=r&recursive=true&include=*.rs&exclude=target").await;
    let root = agent.dir.join("r");
    std::fs::create_dir_all(root.join("src/deep/er")).unwrap();
    std::fs::write(root.join("src/deep/er/lib.rs"), "x").unwrap();
    std::fs::write(root.join("target/out.rs"), "x").unwrap();
    std::fs::write(root.join("notes.txt"), "x").unwrap();
    std::fs::write(root.join("src/deep/er/end.rs"), "x").unwrap();
    // The entries a new directory already had when its watch came are reported in no particular order.
    let (mut lib, mut end) = (false, false);
    let seen = events
        .until(|e| {
            lib |= s(&e["path"]).ends_with("src/deep/er/lib.rs");
            end |= s(&e["path"]).ends_with("src/deep/er/end.rs");
            lib && end
        })
        .await;
    let paths: Vec<&str> = seen.iter().map(|e| s(&e["path"])).collect();
    assert!(paths.iter().all(|p| p.ends_with(".rs")), "only what is included: {paths:?}");
    assert!(!paths.iter().any(|p| p.contains("/target/")), "nothing under an excluded directory: {paths:?}");
}

#[tokio::test]
async fn a_burst_of_ten_thousand_writes_is_reported_or_said_to_overflow_and_the_watch_goes_on() {
    let agent = Agent::start();
    std::fs::create_dir(agent.dir.join("b")).unwrap();
    let mut c = agent.client().await;
    let mut events = Events::open(&mut c, "path=b").await;
    let dir = agent.dir.join("b");
    // The watch is not read meanwhile: the kernel's queue fills.
    for i in 0..10_000 {
        std::fs::write(dir.join(format!("f{i}")), "x").unwrap();
    }
    std::fs::write(dir.join("marker"), "x").unwrap();
    std::fs::rename(dir.join("marker"), dir.join("marked")).unwrap();
    std::fs::remove_file(dir.join("marked")).unwrap();
    let seen = events.until(|e| e["type"] == "delete" && s(&e["path"]).ends_with("marked")).await;
    let overflowed = seen.iter().any(|e| e["type"] == "overflow");
    let created = seen.iter().filter(|e| e["type"] == "create" && s(&e["path"]).contains("/f")).count();
    assert!(overflowed || created == 10_000, "either every file or an overflow: {created} creates, no overflow");
    // After a burst, the watch still reports in order.
    std::fs::write(dir.join("after"), "x").unwrap();
    let after = events.until(|e| s(&e["path"]).ends_with("after")).await;
    assert_eq!(after.last().unwrap()["type"], "create");
}

#[tokio::test]
async fn a_watch_ends_with_its_reader_and_leaves_no_inotify_instance_behind() {
    let agent = Agent::start();
    std::fs::create_dir(agent.dir.join("g")).unwrap();
    let before = inotify_instances(agent.pid());
    let mut c = agent.client().await;
    let events = Events::open(&mut c, "path=g&recursive=true").await;
    assert_eq!(inotify_instances(agent.pid()), before + 1);
    drop(events);
    drop(c);
    assert!(
        eventually(Duration::from_secs(10), || inotify_instances(agent.pid()) == before).await,
        "the watch's instance is closed once its reader is gone"
    );
}

#[tokio::test]
async fn bad_watches_are_refused_with_clear_errors_and_the_sandbox_holds_a_bounded_number() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let missing = c.get("/v1/watch?path=nowhere").await;
    assert_eq!((missing.status, missing.json()["code"].clone()), (404, json!("FILE_NOT_FOUND")));
    let empty = c.get("/v1/watch?path=.&include=a,,b").await;
    assert_eq!((empty.status, empty.json()["code"].clone()), (400, json!("VALIDATION_FAILED")));
    // A file can be watched too: its own changes.
    std::fs::write(agent.dir.join("one.txt"), "x").unwrap();
    let mut file = Events::open(&mut agent.client().await, "path=one.txt").await;
    std::fs::write(agent.dir.join("one.txt"), "y").unwrap();
    assert_eq!(kind_and_name(&file.next().await), "modify one.txt");
    let mut open = vec![file];
    for _ in 1..32 {
        open.push(Events::open(&mut agent.client().await, "path=.").await);
    }
    let over = agent.client().await.get("/v1/watch?path=.").await;
    assert_eq!((over.status, over.json()["code"].clone()), (429, json!("WATCH_LIMIT")));
    drop(open);
    let again = eventually_async(Duration::from_secs(10), async || {
        let mut c = agent.client().await;
        c.start("GET", "/v1/watch?path=.", Vec::new()).await.status() == 200
    })
    .await;
    assert!(again, "a watch's place is free once its reader has gone");
    assert!(Path::new(&agent.dir).exists());
}

#[tokio::test]
async fn a_watch_stopped_by_its_id_ends_its_stream_and_its_instance() {
    let agent = Agent::start();
    let before = inotify_instances(agent.pid());
    let mut c = agent.client().await;
    let events = Events::open(&mut c, "path=.&watchId=w-1").await;
    let mut events = events;
    let taken = agent.client().await.get("/v1/watch?path=.&watchId=w-1").await;
    assert_eq!(taken.status, 400, "an id in use is refused");
    let stop = agent.client().await.delete("/v1/watch/w-1").await.json();
    assert_eq!((stop["watchId"].clone(), stop["stopped"].clone()), (json!("w-1"), json!(true)));
    let end = tokio::time::timeout(Duration::from_secs(10), events.body.frame()).await.expect("the stream ends");
    assert!(end.is_none(), "no more events after the stop");
    assert!(eventually(Duration::from_secs(10), || inotify_instances(agent.pid()) == before).await);
    let again = agent.client().await.delete("/v1/watch/w-1").await.json();
    assert_eq!(again["stopped"], false, "nothing left to stop");
}

#[tokio::test]
async fn check_changes_answers_what_changed_since_a_cursor_and_says_when_a_cursor_is_not_its_own() {
    let agent = Agent::start();
    std::fs::create_dir(agent.dir.join("c")).unwrap();
    let mut c = agent.client().await;
    let first = c.post("/v1/watch/changes", json!({"path": "c"})).await.json();
    assert_eq!((first["changes"].clone(), first["overflow"].clone()), (json!([]), json!(false)));
    let cursor = s(&first["cursor"]).to_string();
    std::fs::write(agent.dir.join("c/a.txt"), "x").unwrap();
    std::fs::rename(agent.dir.join("c/a.txt"), agent.dir.join("c/b.txt")).unwrap();
    let mut later = json!(null);
    let seen = eventually_async(Duration::from_secs(10), async || {
        later = c.post("/v1/watch/changes", json!({"path": "c", "since": cursor})).await.json();
        later["changes"].as_array().unwrap().iter().any(|e| e["type"] == "rename")
    })
    .await;
    assert!(seen, "{later}");
    let mut kinds: Vec<String> = later["changes"].as_array().unwrap().iter().map(kind_and_name).collect();
    kinds.dedup();
    assert_eq!(kinds, ["create a.txt", "modify a.txt", "rename a.txt>b.txt"]);
    assert_eq!(later["overflow"], false);
    // The next call from the new cursor: nothing new.
    let next = c.post("/v1/watch/changes", json!({"path": "c", "since": later["cursor"]})).await.json();
    assert_eq!(next["changes"], json!([]));
    // A cursor this journal did not give (an older agent's, another path's) says changes were lost.
    let foreign = c.post("/v1/watch/changes", json!({"path": "c", "since": "chg-gone.3"})).await.json();
    assert_eq!(foreign["overflow"], true);
    let missing = c.post("/v1/watch/changes", json!({"path": "nowhere"})).await;
    assert_eq!((missing.status, missing.json()["code"].clone()), (404, json!("FILE_NOT_FOUND")));
}
