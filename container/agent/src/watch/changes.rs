//! inotify's events made into a watch's changes: a rename's two halves (`MOVED_FROM`, `MOVED_TO` with one cookie)
//! joined into one `rename` with both paths, a half without its other one read as the delete or create it is to
//! this watch (the file left or came from outside it), and the writes to one file that come one after another
//! reported once. Pure: the inotify side (`watch/mod.rs`) hands over each read's events in order.

/// What inotify said of one entry (or of the watched path itself), already placed: `path` is relative to the
/// watched directory (`""` for the watched path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub path: String,
    pub is_dir: bool,
    pub kind: RawKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    Created,
    Modified,
    Deleted,
    MovedFrom(u32),
    MovedTo(u32),
    /// The kernel's queue overflowed: events were lost.
    Overflow,
}

/// A change as the watch reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create { path: String, is_dir: bool },
    Modify { path: String },
    Delete { path: String, is_dir: bool },
    Rename { from: String, to: String, is_dir: bool },
    Overflow,
}

/// The changes one read's events make, in order.
pub fn changes(raw: Vec<Raw>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::with_capacity(raw.len());
    // A `MOVED_FROM` waiting for its `MOVED_TO`: where its change sits in `out`, and its cookie.
    let mut moves: Vec<(usize, u32)> = Vec::new();
    for event in raw {
        let Raw { path, is_dir, kind } = event;
        let change = match kind {
            RawKind::Created => Change::Create { path, is_dir },
            RawKind::Modified => {
                if matches!(out.last(), Some(Change::Modify { path: last }) if *last == path) {
                    continue;
                }
                Change::Modify { path }
            }
            RawKind::Deleted => Change::Delete { path, is_dir },
            RawKind::MovedFrom(cookie) => {
                moves.push((out.len(), cookie));
                // A delete until (unless) its other half comes.
                Change::Delete { path, is_dir }
            }
            RawKind::MovedTo(cookie) => match moves.iter().position(|(_, c)| *c == cookie) {
                Some(at) => {
                    let (index, _) = moves.remove(at);
                    if let Change::Delete { path: from, .. } = &out[index] {
                        out[index] = Change::Rename { from: from.clone(), to: path, is_dir };
                    }
                    continue;
                }
                None => Change::Create { path, is_dir },
            },
            RawKind::Overflow => Change::Overflow,
        };
        out.push(change);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(path: &str, kind: RawKind) -> Raw {
        Raw { path: path.into(), is_dir: false, kind }
    }

    #[test]
    fn a_renames_two_halves_are_one_rename_in_the_place_of_the_first() {
        let got = changes(vec![
            raw("a", RawKind::Created),
            raw("a", RawKind::MovedFrom(7)),
            raw("x", RawKind::Modified),
            raw("b", RawKind::MovedTo(7)),
            raw("b", RawKind::Deleted),
        ]);
        assert_eq!(
            got,
            [
                Change::Create { path: "a".into(), is_dir: false },
                Change::Rename { from: "a".into(), to: "b".into(), is_dir: false },
                Change::Modify { path: "x".into() },
                Change::Delete { path: "b".into(), is_dir: false },
            ]
        );
    }

    #[test]
    fn a_half_from_or_to_outside_the_watch_is_a_delete_or_a_create() {
        let got = changes(vec![raw("gone", RawKind::MovedFrom(1)), raw("came", RawKind::MovedTo(2))]);
        assert_eq!(
            got,
            [
                Change::Delete { path: "gone".into(), is_dir: false },
                Change::Create { path: "came".into(), is_dir: false }
            ]
        );
    }

    #[test]
    fn writes_one_after_another_to_one_file_are_one_modify() {
        let got = changes(vec![
            raw("f", RawKind::Modified),
            raw("f", RawKind::Modified),
            raw("g", RawKind::Modified),
            raw("f", RawKind::Modified),
            raw("", RawKind::Overflow),
        ]);
        let paths: Vec<String> = got
            .iter()
            .map(|c| match c {
                Change::Modify { path } => path.clone(),
                Change::Overflow => "overflow".into(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(paths, ["f", "g", "f", "overflow"]);
    }
}
