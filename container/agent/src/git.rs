//! `gitCheckout`'s pure parts: what a caller gives is checked (a URL git will not read as an option or as one of
//! its command-running transports, a branch name that is a name, a depth), the clone's command is written from an
//! argv with every part quoted and `--` before the URL, and git's complaint is told apart as an error code. The
//! clone itself runs as a command of the session (`http/git.rs`), so it has the session's variables (credentials a
//! caller set), its containment and its timeout.

use sandbox_protocol::ErrorCode;

use crate::process::prelude::quote;

/// The transports a clone may use (`GIT_ALLOW_PROTOCOL`): never `ext::`, which runs a command, nor `fd::`.
pub const ALLOWED_PROTOCOLS: &str = "file:git:http:https:ssh";

/// The longest URL taken.
const MAX_URL: usize = 4096;

/// A checked clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clone {
    pub url: String,
    pub branch: Option<String>,
    pub depth: Option<u32>,
}

impl Clone {
    /// Checks a caller's URL, branch and depth; the error says what was refused.
    pub fn new(url: &str, branch: Option<&str>, depth: Option<u32>) -> Result<Clone, String> {
        check_url(url)?;
        if let Some(branch) = branch {
            check_branch(branch)?;
        }
        if depth == Some(0) {
            return Err("depth must be at least 1".into());
        }
        Ok(Clone { url: url.to_string(), branch: branch.map(str::to_string), depth })
    }

    /// The shell command that clones into `target` (a path on this machine) and prints the branch checked out.
    pub fn command(&self, target: &str) -> String {
        let mut argv = vec!["git".to_string(), "clone".into(), "--quiet".into(), "--no-recurse-submodules".into()];
        if let Some(branch) = &self.branch {
            argv.push(format!("--branch={branch}"));
        }
        if let Some(depth) = self.depth {
            argv.push(format!("--depth={depth}"));
        }
        argv.extend(["--".to_string(), self.url.clone(), target.to_string()]);
        let clone: Vec<String> = argv.iter().map(|a| quote(a.as_bytes())).collect();
        let head = ["git", "-C", target, "rev-parse", "--abbrev-ref", "HEAD"].map(|a| quote(a.as_bytes()));
        format!("{} && {}", clone.join(" "), head.join(" "))
    }

    /// The directory git would name the clone: the URL's last part without `.git`.
    pub fn default_dir(&self) -> Option<String> {
        let trimmed = self.url.trim_end_matches('/');
        let last = trimmed.rsplit(['/', ':']).next()?;
        let name = last.strip_suffix(".git").unwrap_or(last);
        (!name.is_empty() && name != "." && name != "..").then(|| name.to_string())
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let shown: String = url.chars().take(80).collect();
    if url.is_empty() || url.len() > MAX_URL {
        return Err(format!("repoUrl must be 1 to {MAX_URL} bytes"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("repoUrl {shown:?} holds whitespace or a control character"));
    }
    if url.starts_with('-') {
        return Err(format!("repoUrl {shown:?} would be read as an option"));
    }
    if url.contains("::") {
        return Err(format!("repoUrl {shown:?} names a transport helper (`<transport>::<address>`), which is refused"));
    }
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("https" | "http" | "git" | "ssh" | "file") => Ok(()),
        Some(other) => Err(format!("repoUrl scheme {other:?} is not one of https, http, git, ssh, file")),
        None if url.starts_with('/') => Ok(()),
        // `user@host:path`, as ssh takes it.
        None if url.split_once(':').is_some_and(|(host, _)| !host.is_empty() && !host.contains('/')) => Ok(()),
        None => Err(format!("repoUrl {shown:?} is not a URL, an scp-style address or an absolute path")),
    }
}

/// A branch or tag name git would take (`git check-ref-format --branch`'s rules, and never an option).
fn check_branch(branch: &str) -> Result<(), String> {
    let shown: String = branch.chars().take(80).collect();
    let bad = branch.is_empty()
        || branch.len() > 255
        || branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch == "@"
        || branch.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if bad {
        return Err(format!("branch {shown:?} is not a valid branch or tag name"));
    }
    Ok(())
}

/// The error a failed clone is, from git's standard error (its last lines are the message's).
pub fn failure(stderr: &str, timed_out: bool) -> (ErrorCode, String) {
    let said: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = said[said.len().saturating_sub(3)..].join("; ");
    if timed_out {
        return (ErrorCode::GitCloneFailed, format!("the clone did not finish in time: {tail}"));
    }
    let lower = stderr.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let code = if has(&["remote branch", "not found in upstream", "could not find remote branch"]) {
        ErrorCode::GitBranchNotFound
    } else if has(&["already exists and is not an empty directory"]) {
        ErrorCode::FileExists
    } else if has(&[
        "authentication failed",
        "could not read username",
        "could not read password",
        "permission denied (publickey",
    ]) {
        ErrorCode::GitAuthFailed
    } else if has(&["repository not found", "does not appear to be a git repository", "not found", "does not exist"]) {
        ErrorCode::GitRepositoryNotFound
    } else if has(&[
        "could not resolve host",
        "connection refused",
        "failed to connect",
        "connection timed out",
        "network is unreachable",
    ]) {
        ErrorCode::GitNetworkError
    } else {
        ErrorCode::GitCloneFailed
    };
    let tail = if tail.is_empty() { "git failed without saying why".to_string() } else { tail };
    (code, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_git_would_read_as_options_or_commands_are_refused() {
        for url in [
            "--upload-pack=touch /tmp/pwned",
            "-oProxyCommand=sh",
            "ext::sh -c touch% /tmp/pwned",
            "fd::3",
            "https://example.com/a b",
            "https://example.com/a\nb",
            "ftp://example.com/repo",
            "relative/path",
            "",
        ] {
            assert!(Clone::new(url, None, None).is_err(), "{url:?}");
        }
        for url in [
            "https://github.com/cloudflare/sandbox-sdk.git",
            "http://127.0.0.1:8000/repo",
            "git://host/repo",
            "ssh://git@host/repo.git",
            "file:///workspace/origin",
            "/workspace/origin",
            "git@github.com:owner/repo.git",
        ] {
            assert!(Clone::new(url, None, None).is_ok(), "{url:?}");
        }
    }

    #[test]
    fn branches_are_names_and_depth_is_positive() {
        for branch in ["-b", "--orphan", "a b", "a..b", "x.lock", "a:b", "~1", "@", "a@{1}", ""] {
            assert!(Clone::new("/r", Some(branch), None).is_err(), "{branch:?}");
        }
        for branch in ["main", "release/1.2", "v1.0.0", "feature_x-y"] {
            assert!(Clone::new("/r", Some(branch), None).is_ok(), "{branch:?}");
        }
        assert!(Clone::new("/r", None, Some(0)).is_err());
    }

    #[test]
    fn the_command_quotes_every_part_and_ends_options_before_the_url() {
        let clone = Clone::new("https://h/o'r.git", Some("main"), Some(1)).unwrap();
        let command = clone.command("/workspace/it's");
        assert_eq!(
            command,
            r"$'git' $'clone' $'--quiet' $'--no-recurse-submodules' $'--branch=main' $'--depth=1' $'--' $'https://h/o\'r.git' $'/workspace/it\'s' && $'git' $'-C' $'/workspace/it\'s' $'rev-parse' $'--abbrev-ref' $'HEAD'"
        );
    }

    #[test]
    fn the_default_directory_is_the_repository_name() {
        let dir = |url: &str| Clone::new(url, None, None).unwrap().default_dir();
        assert_eq!(dir("https://github.com/o/sandbox-sdk.git").as_deref(), Some("sandbox-sdk"));
        assert_eq!(dir("git@github.com:o/repo.git").as_deref(), Some("repo"));
        assert_eq!(dir("/workspace/origin/").as_deref(), Some("origin"));
        assert_eq!(dir("https://h/.git"), None);
    }

    #[test]
    fn gits_complaints_become_error_codes() {
        let code = |stderr: &str| failure(stderr, false).0;
        assert_eq!(
            code("warning: Could not find remote branch nope to clone.\nfatal: Remote branch nope not found in upstream origin"),
            ErrorCode::GitBranchNotFound
        );
        assert_eq!(code("fatal: repository '/workspace/none' does not exist"), ErrorCode::GitRepositoryNotFound);
        assert_eq!(
            code("remote: Repository not found.\nfatal: repository 'https://h/x/' not found"),
            ErrorCode::GitRepositoryNotFound
        );
        assert_eq!(
            code("fatal: could not read Username for 'https://h': terminal prompts disabled"),
            ErrorCode::GitAuthFailed
        );
        assert_eq!(code("fatal: unable to access 'https://h/': Could not resolve host: h"), ErrorCode::GitNetworkError);
        assert_eq!(
            code("fatal: destination path 'x' already exists and is not an empty directory."),
            ErrorCode::FileExists
        );
        assert_eq!(code("fatal: something new"), ErrorCode::GitCloneFailed);
        assert!(failure("", false).1.contains("without saying why"));
        assert_eq!(failure("a\nb\nc\nd\n", true).1, "the clone did not finish in time: b; c; d");
    }
}
