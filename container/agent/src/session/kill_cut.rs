//! Where a killed command's stderr ends. When a foreground process dies of SIGKILL, bash writes
//! `<file>: line 1: 123 Killed   <its command text, over as many lines as it has>` to the command's stderr. A stop
//! sends SIGINT first for that reason (bash does not report a SIGINT), but what ignores it, or was forked after it
//! (a trap that starts `sleep`), is killed, and that report is the agent's doing, not the command's output.
//!
//! So the agent kills a command's processes only while they are stopped (its cgroup frozen, or each SIGSTOPped),
//! reads what the command's pipes hold then, and cuts its stderr there: nothing of the command's can follow (its
//! processes are being killed; the shell abandons the command at once), and everything after is bash reporting
//! the kill. Matching the report's text instead failed on a command text of several lines. Pure.

use std::borrow::Cow;

#[derive(Debug, Default)]
pub struct KillCut {
    cut: bool,
}

impl KillCut {
    /// The command's processes were killed, after what its pipes held was read: its stderr ends here.
    pub fn cut(&mut self) {
        self.cut = true;
    }

    /// `chunk` of stderr as it should go on: all of it before the cut, nothing after.
    pub fn filter<'a>(&self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        if self.cut {
            Cow::Owned(Vec::new())
        } else {
            Cow::Borrowed(chunk)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_passes_untouched_until_the_cut_and_not_at_all_after() {
        let mut cut = KillCut::default();
        assert!(matches!(cut.filter(b"partial line"), Cow::Borrowed(b"partial line")));
        cut.cut();
        assert!(cut
            .filter(b"/proc/5660/fd/39: line 1:  5667 Killed   ( trap 'x' INT;\n    sleep 1;\ndone )\n")
            .is_empty());
    }
}
