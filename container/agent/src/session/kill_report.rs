//! Bash's report of a process the agent killed, taken out of the command's stderr. When a foreground process dies
//! of SIGKILL, bash writes `<file>: line 1: 123 Killed   sleep 30` to the command's stderr: a stop sends SIGINT
//! first for that reason (bash does not report a SIGINT), but a process that missed it (one the shell was still
//! forking) is killed, and that line is the agent's doing, not the command's output. Once the agent has killed
//! something for a command, its stderr is passed on line by line and a line reporting one of those pids dropped;
//! before that, stderr passes untouched and unbuffered. Pure.

use std::borrow::Cow;
use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct KillReports {
    killed: HashSet<i32>,
    /// The start of a line not yet ended (kept only once something was killed).
    partial: Vec<u8>,
}

impl KillReports {
    /// The agent killed `pids` for this command.
    pub fn killed(&mut self, pids: impl IntoIterator<Item = i32>) {
        self.killed.extend(pids);
    }

    /// `chunk` of stderr as it should go on: whole lines, less the kill reports.
    pub fn filter<'a>(&mut self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        if self.killed.is_empty() && self.partial.is_empty() {
            return Cow::Borrowed(chunk);
        }
        self.partial.extend_from_slice(chunk);
        let Some(last) = self.partial.iter().rposition(|b| *b == b'\n') else { return Cow::Owned(Vec::new()) };
        let rest = self.partial.split_off(last + 1);
        let whole = std::mem::replace(&mut self.partial, rest);
        let kept: Vec<u8> = whole
            .split_inclusive(|b| *b == b'\n')
            .filter(|line| !is_report(line, &self.killed))
            .flatten()
            .copied()
            .collect();
        Cow::Owned(kept)
    }

    /// What is left of an unended line, at the command's end.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }
}

/// `...: line <n>: <pid> Killed ...` for a pid in `killed`.
fn is_report(line: &[u8], killed: &HashSet<i32>) -> bool {
    let Ok(text) = std::str::from_utf8(line) else { return false };
    let Some((_, after)) = text.split_once(": line ") else { return false };
    let Some((number, after)) = after.split_once(": ") else { return false };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut words = after.split_whitespace();
    let pid = words.next().and_then(|p| p.parse::<i32>().ok());
    pid.is_some_and(|pid| killed.contains(&pid)) && words.next() == Some("Killed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_held_or_changed_before_a_kill() {
        let mut r = KillReports::default();
        assert!(matches!(r.filter(b"partial line"), Cow::Borrowed(b"partial line")));
        assert!(r.finish().is_empty());
    }

    #[test]
    fn after_a_kill_only_the_report_of_a_killed_pid_goes() {
        let mut r = KillReports::default();
        r.killed([5667]);
        let out = r.filter(b"err\n/proc/5660/fd/39: line 1:  5667 Killed   ");
        assert_eq!(&*out, b"err\n");
        assert_eq!(&*r.filter(b"               sleep 30\nafter\n"), b"after\n");
        // Another pid, or the same words written by the command: kept.
        assert_eq!(&*r.filter(b"x: line 1: 99 Killed sleep 1\n"), b"x: line 1: 99 Killed sleep 1\n");
        assert_eq!(&*r.filter(b"5667 Killed\n"), b"5667 Killed\n");
        assert!(r.filter(b"no newline yet").is_empty());
        assert_eq!(r.finish(), b"no newline yet");
    }
}
