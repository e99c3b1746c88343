//! Where a sandbox's paths live on this machine.
//!
//! In a container the workspace is `/workspace` and paths are what they say. In local multi-sandbox mode each
//! sandbox's `/workspace` is the folder `ROOT/<id>` on the host: paths in requests are translated to the host, and
//! paths in results back, so the API looks the same in both modes. Pure path logic, no I/O.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The workspace as sessions and callers name it (`/workspace`).
    visible: PathBuf,
    /// The same folder on this machine.
    real: PathBuf,
}

impl Workspace {
    pub fn new(visible: impl Into<PathBuf>, real: impl Into<PathBuf>) -> Self {
        Self { visible: normalize(&visible.into()), real: normalize(&real.into()) }
    }

    /// The workspace folder on this machine.
    pub fn real_root(&self) -> &Path {
        &self.real
    }

    /// The workspace as callers see it.
    pub fn visible_root(&self) -> &Path {
        &self.visible
    }

    /// A caller's path, absolute or relative to `cwd` (itself a caller's path), as a path on this machine.
    pub fn to_real(&self, path: &str, cwd: &Path) -> PathBuf {
        let joined = normalize(&cwd.join(path));
        match joined.strip_prefix(&self.visible) {
            Ok(rest) if self.visible != self.real => join_rest(&self.real, rest),
            _ => joined,
        }
    }

    /// A path on this machine as callers see it.
    pub fn to_visible(&self, real: &Path) -> PathBuf {
        match real.strip_prefix(&self.real) {
            Ok(rest) if self.visible != self.real => join_rest(&self.visible, rest),
            _ => real.to_path_buf(),
        }
    }
}

fn join_rest(base: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

/// Resolves `.` and `..` without touching the filesystem (`/a/b/../c` is `/a/c`; `..` stops at `/`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        assert_eq!(normalize(Path::new("/../..")), PathBuf::from("/"));
        assert_eq!(normalize(Path::new("/a/")), PathBuf::from("/a"));
    }

    #[test]
    fn identity_in_a_container() {
        let w = Workspace::new("/workspace", "/workspace");
        assert_eq!(w.to_real("analysis", Path::new("/workspace")), PathBuf::from("/workspace/analysis"));
        assert_eq!(w.to_real("/tmp/x", Path::new("/workspace")), PathBuf::from("/tmp/x"));
        assert_eq!(w.to_visible(Path::new("/workspace/a")), PathBuf::from("/workspace/a"));
    }

    #[test]
    fn local_mode_maps_the_workspace_both_ways() {
        let w = Workspace::new("/workspace", "/state/sandboxes/box1");
        assert_eq!(w.to_real("/workspace", Path::new("/")), PathBuf::from("/state/sandboxes/box1"));
        assert_eq!(w.to_real(".", Path::new("/workspace/analysis")), PathBuf::from("/state/sandboxes/box1/analysis"));
        assert_eq!(w.to_real("../x", Path::new("/workspace/a")), PathBuf::from("/state/sandboxes/box1/x"));
        assert_eq!(w.to_real("/workspaces", Path::new("/")), PathBuf::from("/workspaces"));
        assert_eq!(w.to_real("/tmp/session", Path::new("/")), PathBuf::from("/tmp/session"));
        assert_eq!(w.to_visible(Path::new("/state/sandboxes/box1/a/b")), PathBuf::from("/workspace/a/b"));
        assert_eq!(w.to_visible(Path::new("/state/sandboxes/box1")), PathBuf::from("/workspace"));
        assert_eq!(w.to_visible(Path::new("/state/sandboxes/box10")), PathBuf::from("/state/sandboxes/box10"));
    }
}
