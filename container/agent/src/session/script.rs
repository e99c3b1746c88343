//! The text the agent writes to a session's bash. Pure string building, tested natively.
//!
//! Per command, bash reads one short line from its stdin, `\builtin source <wrapper>` (bash reads a pipe one byte
//! at a time, so the line is kept short; a sourced file is read in bulk). The wrapper, an in-memory file, sources
//! the command's text, another in-memory file, in the current shell (so `cd`, `export`, variables, functions and
//! aliases persist), with stdin from `/dev/null` and stdout and stderr sent to pipes of that command alone; then
//! it reports the command's status and working directory on the control pipe, out of band, in one write:
//!
//! ```text
//! D \0 <seq> \0 <status> \0 <$PWD> \0
//! ```
//!
//! and then writes its exported variables (`export -p`, ending with `#<seq>`) to the shell's state file, an
//! in-memory file the agent reads when it must replace the shell or start a background process from the session.
//! That comes after the report, so the caller does not wait for it; a reader that needs the state a command left
//! waits for its `#<seq>` (`Session::exported_after`).
//!
//! The EXIT trap does the same with `X \0 <status> \0 <$PWD> \0` when the shell ends (`exit`, `set -e`), so a
//! replacement shell starts where the old one stopped. The USR1 trap interrupts a command: it returns from the
//! command's file, and a DEBUG trap returns from every function and nested `source` in between, stopping at the
//! wrapper (source depth 1), which goes on to report. Nothing the command
//! prints can forge a report, and no helper function exists that the user could redefine.

use std::path::Path;

use crate::process::prelude::{inherit, quote, Start};

/// The descriptors of one command, as `/proc/<agent>/fd/<n>` paths the shell can open.
pub struct CommandPaths<'a> {
    /// The command's text.
    pub script: &'a str,
    pub stdout: &'a str,
    pub stderr: &'a str,
    pub control: &'a str,
    /// The shell's state file.
    pub state: &'a str,
    /// The shell's status file (`STATUS_FILE`).
    pub status: &'a str,
}

/// The text of every shell's status file. Sourced right before a command, it sets `$?` to the status of the
/// session's previous command, without a fork: a `return` from a sourced file is the one way to set any status
/// in place. So `$?` and a bare `exit` see what the user ran last, not the wrapper's bookkeeping.
pub const STATUS_FILE: &[u8] = b"\\builtin return ${__sbx_last:-0}\n";

/// Settings that apply to one command only: it then runs in a subshell, so nothing it changes outlives it.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    pub cwd: Option<&'a Path>,
    /// `None` unsets the variable for the command.
    pub env: &'a [(String, Option<String>)],
}

impl Scope<'_> {
    fn is_empty(&self) -> bool {
        self.cwd.is_none() && self.env.is_empty()
    }
}

/// One command that exports each `Some` variable and unsets each `None` one, values taken literally, in order; it
/// stops with a non-zero status at the first the shell refuses (a read-only variable).
pub fn assignments(vars: &[(String, Option<String>)]) -> String {
    let mut parts = vec!["\\builtin :".to_string()];
    for (name, value) in vars {
        match value {
            Some(v) => parts.push(format!("\\builtin export {name}={}", quote(v.as_bytes()))),
            None => parts.push(format!("\\builtin unset -v {name}")),
        }
    }
    parts.join(" && ")
}

/// Keeps the command's status, then removes a function named `builtin`, which would capture every `\builtin`
/// below (the command may have defined one; it cannot be meant).
const SAVE_STATUS: &str = r#"__sbx_s=$?; \unset -f builtin"#;

/// Undoes an interrupt's traps; harmless when there was none.
const CLEAR_INTERRUPT: &str =
    r#"[[ -n ${__sbx_i-} ]] && { \builtin trap - DEBUG; \builtin set +T; \builtin unset __sbx_i; }"#;

/// The line bash reads from its stdin to run the wrapper at `wrapper_path`.
pub fn runner_line(wrapper_path: &str) -> String {
    format!("\\builtin source {wrapper_path}\n")
}

/// The wrapper that runs command number `seq` and reports on it. A user's command (`user`) also leaves its status
/// for the next command's `$?`; the agent's own (`setEnvVars`) do not.
pub fn wrapper(seq: u64, paths: &CommandPaths<'_>, scope: &Scope<'_>, user: bool) -> String {
    let mut line = String::with_capacity(512);
    line.push_str(&format!("__sbx_seq={seq}; "));
    line.push_str(CLEAR_INTERRUPT);
    line.push_str("; ");
    if scope.is_empty() {
        line.push_str(&format!("\\builtin source {}; \\builtin source {}", paths.status, paths.script));
    } else {
        line.push_str("( ");
        if let Some(cwd) = scope.cwd {
            use std::os::unix::ffi::OsStrExt;
            line.push_str(&format!("\\builtin cd -- {} || \\builtin exit 1; ", quote(cwd.as_os_str().as_bytes())));
        }
        for (name, value) in scope.env {
            match value {
                Some(v) => line.push_str(&format!("\\builtin export {name}={}; ", quote(v.as_bytes()))),
                None => line.push_str(&format!("\\builtin unset {name}; ")),
            }
        }
        line.push_str(&format!("\\builtin source {}; \\builtin source {} )", paths.status, paths.script));
    }
    line.push_str(&format!(
        " </dev/null >{} 2>{}; {SAVE_STATUS}; \\builtin printf 'D\\0%s\\0%s\\0%s\\0' {seq} \"$__sbx_s\" \"$PWD\" >{}; {}\\builtin unset __sbx_s; {CLEAR_INTERRUPT}; {{ \\builtin export -p; \\builtin printf '#%s\\n' {seq}; }} >{}\n",
        paths.stdout,
        paths.stderr,
        paths.control,
        if user { "__sbx_last=$__sbx_s; " } else { "" },
        paths.state
    ));
    line
}

/// The first command of every shell: traps, options, environment and directory. `exit_state` is the file the EXIT
/// trap writes the exported variables to.
pub fn init_script(control: &str, exit_state: &str, start: &Start<'_>) -> Vec<u8> {
    let usr1 = format!(
        "__sbx_i=1; \\builtin trap {} DEBUG; \\builtin set -T; (( ${{#BASH_SOURCE[@]}} > 1 )) && \\builtin return 130",
        quote(br#"[[ -n ${__sbx_i-} ]] && (( ${#BASH_SOURCE[@]} > 1 )) && \builtin return 130"#)
    );
    let exit = format!(
        r#"{SAVE_STATUS}; {{ \builtin export -p; \builtin printf '#%s+\n' "${{__sbx_seq:-0}}"; }} >{exit_state} 2>/dev/null; \builtin printf 'X\0%s\0%s\0' "$__sbx_s" "$PWD" >{control} 2>/dev/null"#
    );
    let mut s = Vec::with_capacity(1024);
    s.extend_from_slice(b"\\builtin shopt -s expand_aliases\n");
    s.extend_from_slice(format!("\\builtin trap {} USR1\n", quote(usr1.as_bytes())).as_bytes());
    s.extend_from_slice(format!("\\builtin trap {} EXIT\n", quote(exit.as_bytes())).as_bytes());
    s.extend_from_slice(&settle_script(start));
    s
}

/// What makes a started shell a given session's: its variables and its directory. The end of `init_script`, and
/// all a shell taken from the pool (started with `Start::Fresh` and no variables) still needs.
pub fn settle_script(start: &Start<'_>) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut s = Vec::with_capacity(256);
    let cwd = inherit(&mut s, start);
    s.extend_from_slice(format!("\\builtin cd -- {}\n", quote(cwd.as_os_str().as_bytes())).as_bytes());
    s
}

/// The command number a state file's text was written after (its last line, `#<seq>` or `#<seq>+`).
pub fn state_seq(text: &[u8]) -> Option<u64> {
    let body = text.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mark = body[start..].strip_prefix(b"#")?;
    let digits = mark.strip_suffix(b"+").unwrap_or(mark);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Of the state files a shell wrote (`export -p` and a last line `#<seq>`, or `#<seq>+` from the EXIT trap), the
/// newest complete one; empty when none is complete. A file cut short (its shell killed while writing it) has no
/// last line and is passed over, so a replacement shell starts from the last whole state, never from half of one.
pub fn latest_state<'a>(files: &[&'a [u8]]) -> &'a [u8] {
    let rank = |file: &[u8]| -> Option<(u64, bool)> {
        let body = file.strip_suffix(b"\n")?;
        let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mark = body[start..].strip_prefix(b"#")?;
        let (digits, after_exit) = match mark.strip_suffix(b"+") {
            Some(digits) => (digits, true),
            None => (mark, false),
        };
        let seq = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((seq, after_exit))
    };
    files.iter().filter_map(|f| rank(f).map(|r| (r, *f))).max_by_key(|(r, _)| *r).map_or(&[][..], |(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: CommandPaths<'static> = CommandPaths {
        script: "/proc/9/fd/10",
        stdout: "/proc/9/fd/11",
        stderr: "/proc/9/fd/12",
        control: "/proc/9/fd/5",
        state: "/proc/9/fd/6",
        status: "/proc/9/fd/7",
    };

    #[test]
    fn assignments_export_literally_and_unset() {
        let vars = vec![("A".to_string(), Some("$x 'y'".to_string())), ("B".to_string(), None)];
        assert_eq!(assignments(&vars), r"\builtin : && \builtin export A=$'$x \'y\'' && \builtin unset -v B");
    }

    #[test]
    fn the_newest_whole_state_wins_and_a_cut_one_is_passed_over() {
        let (two, three, cut, exit) = (
            &b"declare -x A=\"2\"\n#2\n"[..],
            &b"declare -x A=\"3\"\n#3\n"[..],
            &b"declare -x A=\"4"[..],
            &b"declare -x A=\"x\"\n#3+\n"[..],
        );
        assert_eq!(latest_state(&[two, three]), three);
        assert_eq!(latest_state(&[three, two]), three);
        assert_eq!(latest_state(&[two, cut]), two);
        assert_eq!(latest_state(&[two, three, exit]), exit);
        assert_eq!(latest_state(&[cut, b""]), b"");
    }

    #[test]
    fn the_line_on_stdin_is_short() {
        assert_eq!(runner_line("/proc/9/fd/13"), "\\builtin source /proc/9/fd/13\n");
    }

    #[test]
    fn a_plain_command_is_sourced_in_the_shell_itself() {
        let line = wrapper(7, &PATHS, &Scope::default(), true);
        assert!(line.contains(
            r"\builtin source /proc/9/fd/7; \builtin source /proc/9/fd/10 </dev/null >/proc/9/fd/11 2>/proc/9/fd/12;"
        ));
        assert!(line.contains("__sbx_last=$__sbx_s; "));
        assert!(!wrapper(7, &PATHS, &Scope::default(), false).contains("__sbx_last"));
        assert!(line.ends_with("{ \\builtin export -p; \\builtin printf '#%s\\n' 7; } >/proc/9/fd/6\n"));
        assert!(line.contains(r"'D\0%s\0%s\0%s\0' 7 "));
        assert!(!line.contains("( "));
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn per_command_settings_run_in_a_subshell_with_literal_values() {
        let env = [("A".to_string(), Some("x'y\n$z".to_string())), ("B".to_string(), None)];
        let cwd = Path::new("/tmp/a b");
        let line = wrapper(1, &PATHS, &Scope { cwd: Some(cwd), env: &env }, true);
        assert!(line.contains(r"( \builtin cd -- $'/tmp/a b' || \builtin exit 1; "));
        assert!(line.contains(r"\builtin export A=$'x\'y\x0a$z'; \builtin unset B; \builtin source /proc/9/fd/7; \builtin source /proc/9/fd/10 )"));
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn init_sets_traps_pagers_env_and_cwd() {
        let env = [("API_KEY".to_string(), "secret-key".to_string())];
        let s = String::from_utf8(init_script(
            "/proc/9/fd/5",
            "/proc/9/fd/6",
            &Start::Fresh { env: &env, cwd: Path::new("/w") },
        ))
        .unwrap();
        assert!(s.contains("USR1\n") && s.contains("EXIT\n"));
        assert!(s.contains("GIT_PAGER=cat"));
        assert!(s.contains("export API_KEY=$'secret-key'"));
        assert!(s.ends_with("\\builtin cd -- $'/w'\n"));
    }

    #[test]
    fn a_states_command_number_is_its_last_line() {
        assert_eq!(state_seq(b"declare -x A=\"1\"\n#12\n"), Some(12));
        assert_eq!(state_seq(b"#3+\n"), Some(3));
        assert_eq!(state_seq(b"declare -x A=\"1\"\n"), None);
        assert_eq!(state_seq(b""), None);
    }
}
