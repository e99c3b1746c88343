//! File routes: native, never blocked by a running command, with the SDK's fields and error codes.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn list_files_reports_sdk_fields() {
    let agent = Agent::start();
    std::fs::create_dir_all(agent.dir.join("dir/sub")).unwrap();
    std::fs::write(agent.dir.join("dir/a.txt"), "hello").unwrap();
    std::fs::set_permissions(agent.dir.join("dir/a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("a.txt", agent.dir.join("dir/link")).unwrap();
    let mut c = agent.client().await;
    let v = c.post("/v1/files/list", json!({"path": "dir"})).await.json();
    assert_eq!(v["success"], true);
    assert_eq!(v["path"], path_str(&agent.dir.join("dir")).as_str());
    assert_eq!(v["count"], 3);
    let files = v["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| s(&f["name"])).collect();
    assert_eq!(names, vec!["a.txt", "link", "sub"]);
    let a = &files[0];
    assert_eq!(a["type"], "file");
    assert_eq!(a["size"], 5);
    assert_eq!(a["mode"], "rw-r-----");
    assert_eq!(a["permissions"], json!({"readable": true, "writable": true, "executable": false}));
    assert_eq!(a["absolutePath"], path_str(&agent.dir.join("dir/a.txt")).as_str());
    assert_eq!(a["relativePath"], "a.txt");
    let modified = s(&a["modifiedAt"]);
    assert!(modified.len() == 24 && modified.ends_with('Z'), "{modified}");
    assert_eq!(files[1]["type"], "symlink");
    assert_eq!(files[2]["type"], "directory");
}

#[tokio::test]
async fn a_large_listing_is_whole_sorted_and_exact() {
    // Past the size from which entries are stat'ed and serialised on several threads.
    let agent = Agent::start();
    let dir = agent.dir.join("big");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..3000 {
        std::fs::write(dir.join(format!("f-{i:04}-\"q\"[x]")), vec![b'x'; i % 7]).unwrap();
    }
    std::fs::create_dir(dir.join("d-sub")).unwrap();
    let mut c = agent.client().await;
    let r = c.post("/v1/files/list", json!({"path": "big"})).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["count"], 3001);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 3001);
    let names: Vec<&str> = files.iter().map(|f| s(&f["relativePath"])).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(files[0]["name"], "d-sub");
    assert_eq!(files[0]["type"], "directory");
    let f = &files[1 + 1234];
    assert_eq!(f["name"], "f-1234-\"q\"[x]");
    assert!(s(&f["absolutePath"]).ends_with("/big/f-1234-\"q\"[x]"), "{f}");
    assert_eq!(f["size"], 1234 % 7);
    assert_eq!(f["type"], "file");
    assert!(s(&v["path"]).ends_with("/big"));
    assert_eq!(v["success"], true);
}

#[tokio::test]
async fn recursive_listing_prunes_hidden_directories_unless_asked() {
    let agent = Agent::start();
    std::fs::create_dir_all(agent.dir.join("r/.git/objects")).unwrap();
    std::fs::create_dir_all(agent.dir.join("r/src")).unwrap();
    std::fs::write(agent.dir.join("r/src/main.rs"), "").unwrap();
    std::fs::write(agent.dir.join("r/.env"), "").unwrap();
    std::fs::write(agent.dir.join("r/.git/HEAD"), "").unwrap();
    let mut c = agent.client().await;
    let rel = |v: &Value| -> Vec<String> {
        v["files"].as_array().unwrap().iter().map(|f| s(&f["relativePath"]).to_string()).collect()
    };
    let v = c.post("/v1/files/list", json!({"path": "r", "recursive": true})).await.json();
    assert_eq!(rel(&v), vec!["src", "src/main.rs"]);
    let v = c.post("/v1/files/list", json!({"path": "r", "recursive": true, "includeHidden": true})).await.json();
    assert_eq!(rel(&v), vec![".env", ".git", ".git/HEAD", ".git/objects", "src", "src/main.rs"]);
}

#[tokio::test]
async fn symlinked_directories_are_listed_not_followed() {
    let agent = Agent::start();
    std::fs::create_dir_all(agent.dir.join("l/real")).unwrap();
    std::fs::write(agent.dir.join("l/real/f"), "").unwrap();
    std::os::unix::fs::symlink(agent.dir.join("l"), agent.dir.join("l/loop")).unwrap();
    let mut c = agent.client().await;
    let v = c.post("/v1/files/list", json!({"path": "l", "recursive": true})).await.json();
    assert_eq!(v["count"], 3);
}

#[tokio::test]
async fn relative_paths_follow_the_sessions_cwd() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "s"})).await;
    c.run(Some("s"), "mkdir -p deep/er && cd deep && touch here.txt").await;
    let v = c.post("/v1/files/list", json!({"path": ".", "sessionId": "s"})).await.json();
    assert_eq!(v["path"], path_str(&agent.dir.join("deep")).as_str());
    let names: Vec<&str> = v["files"].as_array().unwrap().iter().map(|f| s(&f["name"])).collect();
    assert_eq!(names, vec!["er", "here.txt"]);
}

#[tokio::test]
async fn listing_is_not_blocked_by_a_running_command() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "true").await;
    let mut other = agent.client().await;
    let running = tokio::spawn(async move { other.run(None, "touch started; sleep 1").await });
    until_exists(&agent.dir.join("started")).await;
    let t0 = Instant::now();
    let r = c.post("/v1/files/list", json!({"path": "."})).await;
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() < Duration::from_millis(500), "took {:?}", t0.elapsed());
    running.await.unwrap();
}

#[tokio::test]
async fn missing_and_non_directory_paths_get_their_codes() {
    let agent = Agent::start();
    std::fs::write(agent.dir.join("plain"), "x").unwrap();
    let mut c = agent.client().await;
    let r = c.post("/v1/files/list", json!({"path": "nope"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!("FILE_NOT_FOUND")));
    let r = c.post("/v1/files/list", json!({"path": "plain"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("NOT_DIRECTORY")));
    let r = c.post("/v1/files/list", json!({"path": ""})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn write_then_read_text_and_binary() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/files/write", json!({"path": "notes/a.md", "content": "# héllo\n"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], path_str(&agent.dir.join("notes/a.md")).as_str());
    let v = c.post("/v1/files/read", json!({"path": "notes/a.md"})).await.json();
    assert_eq!(v["content"], "# héllo\n");
    assert_eq!(v["encoding"], "utf-8");
    assert_eq!(v["isBinary"], false);
    assert_eq!(v["mimeType"], "text/markdown");
    assert_eq!(v["size"], 9);
    let r = c.post("/v1/files/write", json!({"path": "bin.dat", "content": "AP8AAQ==", "encoding": "base64"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(std::fs::read(agent.dir.join("bin.dat")).unwrap(), vec![0, 255, 0, 1]);
    let v = c.post("/v1/files/read", json!({"path": "bin.dat"})).await.json();
    assert_eq!(v["content"], "AP8AAQ==");
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["isBinary"], true);
    let r = c.post("/v1/files/write", json!({"path": "x", "content": "!!", "encoding": "base64"})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn read_errors() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/files/read", json!({"path": "missing"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!("FILE_NOT_FOUND")));
    let r = c.post("/v1/files/read", json!({"path": "."})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("IS_DIRECTORY")));
    let big = std::fs::File::create(agent.dir.join("big")).unwrap();
    big.set_len(33 * 1024 * 1024).unwrap();
    let r = c.post("/v1/files/read", json!({"path": "big"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (413, json!("FILE_TOO_LARGE")));
}

#[tokio::test]
async fn mkdir_delete_rename_move_exists() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/files/mkdir", json!({"path": "a/b/c", "recursive": true})).await;
    assert_eq!(r.json()["recursive"], true);
    assert!(agent.dir.join("a/b/c").is_dir());
    let r = c.post("/v1/files/mkdir", json!({"path": "a"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (409, json!("FILE_EXISTS")));
    let r = c.post("/v1/files/mkdir", json!({"path": "x/y"})).await;
    assert_eq!(r.status, 404);

    c.post("/v1/files/write", json!({"path": "f.txt", "content": "1"})).await;
    assert_eq!(c.post("/v1/files/exists", json!({"path": "f.txt"})).await.json()["exists"], true);
    let r = c.post("/v1/files/rename", json!({"oldPath": "f.txt", "newPath": "g.txt"})).await;
    assert_eq!(r.json()["newPath"], path_str(&agent.dir.join("g.txt")).as_str());
    assert_eq!(c.post("/v1/files/exists", json!({"path": "f.txt"})).await.json()["exists"], false);
    c.post("/v1/files/write", json!({"path": "h.txt", "content": "2"})).await;
    let r = c.post("/v1/files/rename", json!({"oldPath": "h.txt", "newPath": "g.txt"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (409, json!("FILE_EXISTS")));

    let r = c.post("/v1/files/move", json!({"sourcePath": "g.txt", "destinationPath": "a/b"})).await;
    assert_eq!(r.json()["newPath"], path_str(&agent.dir.join("a/b/g.txt")).as_str());
    assert_eq!(std::fs::read_to_string(agent.dir.join("a/b/g.txt")).unwrap(), "1");
    let r = c.post("/v1/files/move", json!({"sourcePath": "h.txt", "destinationPath": "a/b/g.txt"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(std::fs::read_to_string(agent.dir.join("a/b/g.txt")).unwrap(), "2");

    let r = c.post("/v1/files/delete", json!({"path": "a"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("IS_DIRECTORY")));
    assert_eq!(c.post("/v1/files/delete", json!({"path": "a/b/g.txt"})).await.status, 200);
    let r = c.post("/v1/files/delete", json!({"path": "a/b/g.txt"})).await;
    assert_eq!(r.status, 404);
}
