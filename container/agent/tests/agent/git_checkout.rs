//! `POST /v1/git/checkout`: a repository cloned into the sandbox from a local path or `file://` URL, branch and
//! depth honoured, git's failures as typed errors, and nothing a caller sends read as an option of git's.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
}

/// A repository at `dir` with two commits on `main` and a branch `dev` with a file of its own.
fn repository(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    std::fs::write(dir.join("README.md"), "one\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "one"]);
    std::fs::write(dir.join("README.md"), "two\n").unwrap();
    git(dir, &["commit", "-qam", "two"]);
    git(dir, &["checkout", "-qb", "dev"]);
    std::fs::write(dir.join("dev.txt"), "dev\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "dev"]);
    git(dir, &["checkout", "-q", "main"]);
}

#[tokio::test]
async fn a_local_repository_is_cloned_with_its_default_branch_or_the_one_asked_and_a_depth() {
    let agent = Agent::start();
    let origin = agent.dir.join("src/upstream");
    repository(&origin);
    let mut c = agent.client().await;
    let v = c.post("/v1/git/checkout", json!({"repoUrl": path_str(&origin)})).await;
    assert_eq!(v.status, 200, "{}", String::from_utf8_lossy(&v.body));
    let v = v.json();
    assert_eq!((v["success"].clone(), v["branch"].clone()), (json!(true), json!("main")));
    assert_eq!(v["targetDir"], path_str(&agent.dir.join("upstream")).as_str(), "named after the repository");
    assert_eq!(std::fs::read_to_string(agent.dir.join("upstream/README.md")).unwrap(), "two\n");

    let url = format!("file://{}", path_str(&origin));
    let v =
        c.post("/v1/git/checkout", json!({"repoUrl": url, "branch": "dev", "depth": 1, "targetDir": "shallow"})).await;
    assert_eq!(v.status, 200, "{}", String::from_utf8_lossy(&v.body));
    assert_eq!(v.json()["branch"], "dev");
    assert!(agent.dir.join("shallow/dev.txt").exists());
    let count = c.run(None, "git -C shallow rev-list --count HEAD").await;
    assert_eq!(count["stdout"], "1", "a shallow clone of one commit");
}

#[tokio::test]
async fn gits_failures_are_typed_errors_and_an_existing_target_is_refused() {
    let agent = Agent::start();
    let origin = agent.dir.join("origin");
    repository(&origin);
    std::fs::create_dir_all(agent.dir.join("taken")).unwrap();
    std::fs::write(agent.dir.join("taken/x"), "x").unwrap();
    let mut c = agent.client().await;
    let o = path_str(&origin);
    for (body, status, code) in [
        (json!({"repoUrl": o, "targetDir": "taken"}), 409, "FILE_EXISTS"),
        (json!({"repoUrl": path_str(&agent.dir.join("none")), "targetDir": "a"}), 404, "GIT_REPOSITORY_NOT_FOUND"),
        (json!({"repoUrl": o, "branch": "nope", "targetDir": "b"}), 404, "GIT_BRANCH_NOT_FOUND"),
        (json!({"repoUrl": o, "depth": 0, "targetDir": "c"}), 400, "VALIDATION_FAILED"),
        (json!({"repoUrl": o, "branch": "--orphan", "targetDir": "d"}), 400, "VALIDATION_FAILED"),
    ] {
        let r = c.post("/v1/git/checkout", body.clone()).await;
        assert_eq!((r.status, r.json()["code"].clone()), (status, json!(code)), "{body}: {}", r.json());
    }
    assert_eq!(std::fs::read_to_string(agent.dir.join("taken/x")).unwrap(), "x", "the existing target is untouched");
    // The session lives on: a failed clone is one of its commands like any other.
    assert_eq!(c.run(None, "echo on").await["stdout"], "on");
}

#[tokio::test]
async fn nothing_in_the_url_reaches_git_as_an_option_or_a_command() {
    let agent = Agent::start();
    let pwned = agent.dir.join("pwned");
    let mut c = agent.client().await;
    for url in [
        format!("--upload-pack=touch {}", path_str(&pwned)),
        format!("ext::sh -c touch% {}", path_str(&pwned)),
        "-u touch".to_string(),
    ] {
        let r = c.post("/v1/git/checkout", json!({"repoUrl": url, "targetDir": "x"})).await;
        assert_eq!((r.status, r.json()["code"].clone()), (400, json!("VALIDATION_FAILED")), "{url}");
    }
    assert!(!pwned.exists());
}
