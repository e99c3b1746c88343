//! `GET` and `PUT /v1/files/content`: a file's bytes streamed at any size, byte-exact, in ranges, and an upload
//! that is atomic however it ends.

use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

/// Bytes no two offsets of which repeat in a short period (a shifted or dropped chunk shows).
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect()
}

const OCTETS: (&str, &str) = ("content-type", "application/octet-stream");

#[tokio::test]
async fn a_file_larger_than_any_json_body_goes_up_and_down_byte_exact() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let bytes = pattern(80 << 20);
    let up = c.send_with("PUT", "/v1/files/content?path=out%2Fbig.bin", &[OCTETS], bytes.clone()).await;
    assert_eq!(up.status, 200, "{}", String::from_utf8_lossy(&up.body));
    let v = up.json();
    assert_eq!((v["success"].clone(), v["size"].clone()), (json!(true), json!(80 << 20)));
    assert_eq!(v["path"], path_str(&agent.dir.join("out/big.bin")).as_str(), "parents are made");
    assert!(std::fs::read(agent.dir.join("out/big.bin")).unwrap() == bytes, "the file on disk is exact");

    let down = c.start("GET", "/v1/files/content?path=out/big.bin", Vec::new()).await;
    assert_eq!(down.status(), 200);
    let header = |name: &str| down.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(header("content-length").as_deref(), Some("83886080"));
    assert_eq!(header("x-file-size").as_deref(), Some("83886080"));
    assert_eq!(header("content-type").as_deref(), Some("application/octet-stream"));
    let body = down.into_body().collect().await.unwrap().to_bytes();
    assert!(body == bytes, "the download is exact");
}

#[tokio::test]
async fn a_range_is_answered_as_partial_content_and_one_past_the_end_is_refused() {
    let agent = Agent::start();
    let bytes = pattern(1 << 20);
    std::fs::write(agent.dir.join("data.bin"), &bytes).unwrap();
    let mut c = agent.client().await;
    let part = c.start("GET", "/v1/files/content?path=data.bin&offset=1000&length=300000", Vec::new()).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-300999/1048576");
    assert_eq!(part.headers()["content-length"], "300000");
    let body = part.into_body().collect().await.unwrap().to_bytes();
    assert!(body[..] == bytes[1000..301_000]);

    let tail = c.get("/v1/files/content?path=data.bin&offset=1048000&length=99999").await;
    assert_eq!((tail.status, tail.body.len()), (206, 576), "a length past the end is cut to it");

    let past = c.get("/v1/files/content?path=data.bin&offset=1048576").await;
    assert_eq!(past.status, 416);
    assert_eq!(past.json()["code"], "RANGE_NOT_SATISFIABLE");
    let wrong = c.get("/v1/files/content?path=data.bin&offset=-1").await;
    assert_eq!((wrong.status, wrong.json()["code"].clone()), (400, json!("VALIDATION_FAILED")));
}

#[tokio::test]
async fn an_upload_cut_off_half_way_leaves_the_old_file_and_no_temporary() {
    let agent = Agent::start();
    std::fs::write(agent.dir.join("keep.txt"), "the old content").unwrap();
    let mut stream = TcpStream::connect(agent.addr).await.unwrap();
    let head = "PUT /v1/files/content?path=keep.txt HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                content-type: application/octet-stream\r\ncontent-length: 10000000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&pattern(3 << 20)).await.unwrap();
    // The temporary file is there while the upload is under way ...
    assert!(eventually(Duration::from_secs(10), || !leftovers(&agent.dir).is_empty()).await);
    drop(stream);
    // ... and gone once the caller is, with the old file as it was.
    assert!(
        eventually(Duration::from_secs(10), || leftovers(&agent.dir).is_empty()).await,
        "left behind: {:?}",
        leftovers(&agent.dir)
    );
    assert_eq!(std::fs::read_to_string(agent.dir.join("keep.txt")).unwrap(), "the old content");
}

#[tokio::test]
async fn an_upload_replaces_a_file_whole_keeping_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let agent = Agent::start();
    let path = agent.dir.join("run.sh");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).unwrap();
    let mut c = agent.client().await;
    let up = c.send_with("PUT", "/v1/files/content?path=run.sh", &[OCTETS], b"#!/bin/sh\necho new\n".to_vec()).await;
    assert_eq!(up.status, 200);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "#!/bin/sh\necho new\n");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o750);
    let empty = c.send_with("PUT", "/v1/files/content?path=empty", &[OCTETS], Vec::new()).await;
    assert_eq!((empty.status, empty.json()["size"].clone()), (200, json!(0)));
    let down = c.get("/v1/files/content?path=empty").await;
    assert_eq!((down.status, down.body.len()), (200, 0));
}

#[tokio::test]
async fn what_is_not_a_regular_file_is_refused_both_ways_and_the_answer_arrives() {
    let agent = Agent::start();
    std::fs::create_dir(agent.dir.join("dir")).unwrap();
    nix::unistd::mkfifo(&agent.dir.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut c = agent.client().await;
    for (path, status, code) in
        [("dir", 400, "IS_DIRECTORY"), ("fifo", 400, "UNSUPPORTED_FILE_TYPE"), ("missing", 404, "FILE_NOT_FOUND")]
    {
        let r = c.get(&format!("/v1/files/content?path={path}")).await;
        assert_eq!((r.status, r.json()["code"].clone()), (status, json!(code)), "GET {path}");
    }
    // A refused upload's body is read and dropped, so a caller still sending 5 MiB gets its answer.
    for (path, code) in [("dir", "IS_DIRECTORY"), ("fifo", "UNSUPPORTED_FILE_TYPE")] {
        let mut c = agent.client().await;
        let r = c.send_with("PUT", &format!("/v1/files/content?path={path}"), &[OCTETS], pattern(5 << 20)).await;
        assert_eq!((r.status, r.json()["code"].clone()), (400, json!(code)), "PUT {path}");
    }
    let mut c = agent.client().await;
    let r = c.send_with("PUT", "/v1/files/content", &[OCTETS], b"x".to_vec()).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("VALIDATION_FAILED")), "no path");
    // A body a web page could send without asking first is refused, as on every route.
    let r =
        c.send_with("PUT", "/v1/files/content?path=page.txt", &[("content-type", "text/plain")], b"x".to_vec()).await;
    assert_eq!(r.status, 415, "{}", String::from_utf8_lossy(&r.body));
    assert!(!agent.dir.join("page.txt").exists());
    assert!(leftovers(&agent.dir).is_empty());
}

#[tokio::test]
async fn read_file_returns_a_range_of_a_file_too_large_to_read_whole() {
    let agent = Agent::start();
    let mut bytes = vec![b'a'; 40 << 20];
    bytes[(40 << 20) - 5..].copy_from_slice(b"tail!");
    std::fs::write(agent.dir.join("huge.log"), &bytes).unwrap();
    let mut c = agent.client().await;
    let whole = c.post("/v1/files/read", json!({"path": "huge.log"})).await;
    assert_eq!(whole.status, 413);
    assert!(s(&whole.json()["message"]).contains("readFileStream"), "the error names the way: {}", whole.json());
    let v = c.post("/v1/files/read", json!({"path": "huge.log", "offset": (40 << 20) - 5})).await.json();
    assert_eq!((v["content"].clone(), v["size"].clone()), (json!("tail!"), json!(5)));
    let v = c.post("/v1/files/read", json!({"path": "huge.log", "offset": 0, "length": 3})).await.json();
    assert_eq!(v["content"], "aaa");
    let past = c.post("/v1/files/read", json!({"path": "huge.log", "offset": 40 << 20})).await;
    assert_eq!((past.status, past.json()["code"].clone()), (416, json!("RANGE_NOT_SATISFIABLE")));
}
