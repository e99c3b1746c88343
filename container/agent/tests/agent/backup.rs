//! Backups through the agent's routes (the Durable Object's side of them): a save read, its manifest and blobs
//! fetched, committed; the workspace changed; a restore fed a corrupt blob is abandoned and changes nothing; a
//! restore fed the right blobs puts back every file, link, mode and mtime; a save after it sends nothing new.

use std::collections::HashMap;

use crate::support::*;

const OCTETS: &[(&str, &str)] = &[("content-type", "application/octet-stream")];

/// Every entry below the workspace with its type, mode, size, mtime and (for files) a hash of its content.
const DESCRIBE: &str = "cd \"$SANDBOX_WS\" && find . -mindepth 1 -printf '%p %y %m %s %T@ %l\\n' | sort \
    && find . -type f -exec sha256sum {} + | sort -k2";

async fn describe(c: &mut Client, root: &str) -> String {
    let result = c.run(None, &DESCRIBE.replace("$SANDBOX_WS", root)).await;
    assert_eq!(result["exitCode"], 0, "{result}");
    s(&result["stdout"]).to_string()
}

#[tokio::test]
async fn a_saved_workspace_comes_back_whole_and_a_corrupt_blob_changes_nothing() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let root = path_str(&agent.dir);
    let made = c
        .run(
            None,
            "mkdir -p src/empty 'ünï cödé' && printf 'a\\0b\\377' > src/bin && : > zero && ln -s ../elsewhere src/link \
             && echo mine > secret && chmod 700 secret && echo twin > a && echo twin > b \
             && head -c 9000000 /dev/urandom > big && touch -d @1000000000 src/bin",
        )
        .await;
    assert_eq!(made["exitCode"], 0, "{made}");
    let before = describe(&mut c, &root).await;

    let scan = c.post("/v1/backup/scans", json!({})).await;
    assert_eq!(scan.status, 200, "{}", String::from_utf8_lossy(&scan.body));
    let scan = scan.json();
    let id = s(&scan["scanId"]).to_string();
    assert_eq!(scan["files"], 6, "{scan}");
    // The big file in three chunks, the small files in one pack (the twins once).
    assert_eq!(scan["blobs"].as_array().unwrap().len(), 4, "{scan}");
    let manifest = c.get(&format!("/v1/backup/scans/{id}/manifest")).await;
    assert_eq!((manifest.status, manifest.body.len() as u64), (200, scan["manifestBytes"].as_u64().unwrap()));
    let mut blobs = HashMap::new();
    for blob in scan["blobs"].as_array().unwrap() {
        let hash = s(&blob["hash"]).to_string();
        let got = c.get(&format!("/v1/backup/scans/{id}/blobs/{hash}")).await;
        assert_eq!((got.status, got.body.len() as u64), (200, blob["size"].as_u64().unwrap()));
        blobs.insert(hash, got.body);
    }
    assert_eq!(c.post(&format!("/v1/backup/scans/{id}/commit"), json!({})).await.status, 200);
    // Nothing changed since the committed save: nothing to send.
    let again = c.post("/v1/backup/scans", json!({})).await.json();
    assert_eq!(again["blobs"], json!([]), "{again}");
    assert_eq!(c.delete(&format!("/v1/backup/scans/{}", s(&again["scanId"]))).await.status, 200);

    assert_eq!(c.run(None, "rm -rf src big && echo changed > notes.txt").await["exitCode"], 0);
    let changed = describe(&mut c, &root).await;

    // A corrupt blob: refused, the restore abandoned, the workspace as it was.
    let begun = c.send_with("POST", "/v1/backup/restores", OCTETS, manifest.body.clone()).await;
    assert_eq!(begun.status, 200, "{}", String::from_utf8_lossy(&begun.body));
    let begun = begun.json();
    let restore = s(&begun["restoreId"]).to_string();
    let first = s(&begun["missing"][0]).to_string();
    let mut bad = blobs[&first].clone();
    bad[0] ^= 1;
    let refused = c.send_with("PUT", &format!("/v1/backup/restores/{restore}/blobs/{first}"), OCTETS, bad).await;
    assert_eq!((refused.status, refused.json()["code"].clone()), (422, json!("BACKUP_INVALID")));
    let gone = c.post(&format!("/v1/backup/restores/{restore}/commit"), json!({})).await;
    assert_eq!((gone.status, gone.json()["code"].clone()), (404, json!("BACKUP_NOT_FOUND")));
    assert_eq!(describe(&mut c, &root).await, changed);

    // Only into an empty directory, when asked so: this one has entries, and is kept.
    let kept = c.send_with("POST", "/v1/backup/restores?onlyIfEmpty=true", OCTETS, manifest.body.clone()).await;
    assert_eq!((kept.status, kept.json()["code"].clone()), (409, json!("FILE_EXISTS")));
    assert_eq!(describe(&mut c, &root).await, changed);

    // A corrupt or foreign manifest is refused before anything is made.
    let mut torn = manifest.body.clone();
    torn.truncate(torn.len() - 7);
    let refused = c.send_with("POST", "/v1/backup/restores", OCTETS, torn).await;
    assert_eq!((refused.status, refused.json()["code"].clone()), (422, json!("BACKUP_INVALID")));

    // The right blobs: everything back, byte for byte, with modes, links and mtimes; what was added is gone.
    let begun = c.send_with("POST", "/v1/backup/restores", OCTETS, manifest.body.clone()).await.json();
    let restore = s(&begun["restoreId"]).to_string();
    for hash in begun["missing"].as_array().unwrap() {
        let hash = s(hash);
        let path = format!("/v1/backup/restores/{restore}/blobs/{hash}");
        let put = c.send_with("PUT", &path, OCTETS, blobs[hash].clone()).await;
        assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    }
    let done = c.post(&format!("/v1/backup/restores/{restore}/commit"), json!({})).await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.json()["files"], 6);
    assert_eq!(describe(&mut c, &root).await, before);
    // The restore is the new starting point: a save right after it sends nothing.
    let after = c.post("/v1/backup/scans", json!({})).await.json();
    assert_eq!(after["blobs"], json!([]), "{after}");
}

#[tokio::test]
async fn unknown_ids_and_outside_directories_are_clear_errors() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for (method, path) in [
        ("GET", "/v1/backup/scans/save-nope/manifest"),
        ("POST", "/v1/backup/scans/save-nope/commit"),
        ("DELETE", "/v1/backup/restores/restore-nope"),
    ] {
        let r = c.send(method, path, Vec::new()).await;
        assert_eq!((r.status, r.json()["code"].clone()), (404, json!("BACKUP_NOT_FOUND")), "{method} {path}");
    }
    let r = c.post("/v1/backup/scans", json!({"dir": "no/such/dir"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (404, json!("FILE_NOT_FOUND")));
    std::fs::write(agent.dir.join("file"), "x").unwrap();
    let r = c.post("/v1/backup/scans", json!({"dir": "file"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("NOT_DIRECTORY")));
    let r = c.post("/v1/backup/scans", json!({"dir": ".", "extra": 1})).await;
    assert_eq!(r.json()["code"], "VALIDATION_FAILED");
}

#[tokio::test]
async fn a_file_that_changes_under_a_save_spoils_only_that_save_and_the_next_one_holds_a_copy() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo first > log").await["exitCode"], 0);
    let scan = c.post("/v1/backup/scans", json!({})).await.json();
    let id = s(&scan["scanId"]).to_string();
    let hash = s(&scan["blobs"][0]["hash"]).to_string();
    // The file changes between the save's reading and its sending: the blob is refused before its answer begins
    // (never sent wrong, never cut short), naming the file; from then on the save says so for every blob.
    assert_eq!(c.run(None, "echo second > log").await["exitCode"], 0);
    for _ in 0..2 {
        let refused = c.get(&format!("/v1/backup/scans/{id}/blobs/{hash}")).await;
        assert_eq!((refused.status, refused.json()["code"].clone()), (409, json!("FILE_CHANGED")));
        let message = refused.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(message.starts_with("log changed"), "{message}");
    }
    assert_eq!(c.delete(&format!("/v1/backup/scans/{id}")).await.status, 200);

    // The next save copies that file as it reads it: its blob is what it read, however the file goes on.
    let scan = c.post("/v1/backup/scans", json!({})).await.json();
    let id = s(&scan["scanId"]).to_string();
    let hash = s(&scan["blobs"][0]["hash"]).to_string();
    assert_eq!(c.run(None, "echo third, longer > log").await["exitCode"], 0);
    let blob = c.get(&format!("/v1/backup/scans/{id}/blobs/{hash}")).await;
    assert_eq!((blob.status, blob.body.as_slice()), (200, &b"second\n"[..]));
    assert_eq!(scan["refs"], json!([hash]), "{scan}");
    // Nothing counts as stored until a save is committed; then its blobs do (a collection must keep them).
    assert_eq!(c.get("/v1/backup/known").await.json()["blobs"], json!([]));
    assert_eq!(c.post(&format!("/v1/backup/scans/{id}/commit"), json!({})).await.status, 200);
    assert_eq!(c.get("/v1/backup/known").await.json()["blobs"], json!([hash]));
}
