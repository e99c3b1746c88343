//! The bash text that starts a program from a session's state: quoting, the variables a shell, a background
//! process or a terminal begins with, and its directory. Pure string building, tested natively. (A session's own
//! per-command text is `session::script`.)

use std::path::Path;

/// Quotes any string for bash as an ANSI-C literal (`$'...'`), byte for byte. NUL cannot be represented.
pub fn quote(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    out.push_str("$'");
    for &b in value {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

/// Where a new shell starts: the session's environment and directory, or the state a previous shell left.
pub enum Start<'a> {
    Fresh {
        env: &'a [(String, String)],
        cwd: &'a Path,
    },
    /// `exports` is the text of a previous shell's `export -p`.
    Restore {
        exports: &'a [u8],
        cwd: &'a Path,
    },
}

/// Appends the variables a shell or process starts with; returns the directory it starts in.
pub fn inherit<'a>(s: &mut Vec<u8>, start: &Start<'a>) -> &'a Path {
    match start {
        Start::Fresh { env, cwd } => {
            s.extend_from_slice(b"\\builtin export PAGER=cat GIT_PAGER=cat GIT_EDITOR=true\n");
            for (name, value) in env.iter() {
                s.extend_from_slice(format!("\\builtin export {name}={}\n", quote(value.as_bytes())).as_bytes());
            }
            cwd
        }
        Start::Restore { exports, cwd } => {
            s.extend_from_slice(exports);
            s.push(b'\n');
            cwd
        }
    }
}

/// The start of a background process's script: the variables it inherits (a session's last `export -p`, or the
/// variables the session started with), its own (`None` unsets), and its directory (a process whose directory is
/// gone does not start elsewhere: it fails with status 1).
pub fn prelude(inherited: &Start<'_>, env: &[(String, Option<String>)]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut s = Vec::with_capacity(1024);
    let cwd = inherit(&mut s, inherited);
    for (name, value) in env {
        match value {
            Some(value) => {
                s.extend_from_slice(format!("\\builtin export {name}={}\n", quote(value.as_bytes())).as_bytes())
            }
            None => s.extend_from_slice(format!("\\builtin unset -v {name}\n").as_bytes()),
        }
    }
    s.extend_from_slice(
        format!("\\builtin cd -- {} || \\builtin exit 1\n", quote(cwd.as_os_str().as_bytes())).as_bytes(),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_byte_exact_for_bash() {
        assert_eq!(quote(b"plain"), "$'plain'");
        assert_eq!(quote(b"it's $HOME `x` \\"), r"$'it\'s $HOME `x` \\'");
        assert_eq!(quote(b"a\nb\xff"), r"$'a\x0ab\xff'");
        assert_eq!(quote(b""), "$''");
    }

    #[test]
    fn a_process_inherits_the_sessions_last_state_then_its_own_variables_and_directory() {
        let exports = b"declare -x KEPT=\"yes\"";
        let env = [("PORT".to_string(), Some("3000".to_string())), ("DROP".to_string(), None)];
        let s = String::from_utf8(prelude(&Start::Restore { exports, cwd: Path::new("/w/app") }, &env)).unwrap();
        assert_eq!(
            s,
            "declare -x KEPT=\"yes\"\n\\builtin export PORT=$'3000'\n\\builtin unset -v DROP\n\\builtin cd -- $'/w/app' || \\builtin exit 1\n"
        );
    }
}
